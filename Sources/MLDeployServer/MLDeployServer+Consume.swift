import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// Consume: `POST /api/{name}/{version}` with the inputs as a JSON object; the
    /// answer is a `WebServiceResult`. A service whose code raised is a 200 with `success: false`
    /// (what the SDK surfaces as the response's error); bad inputs are a 400. A call cut short
    /// because its version was deleted meanwhile is a 404, because it was redeployed a 503 with
    /// `Retry-After: 0` (calling again runs the new revision) — never a 500.
    func addConsumeRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/:name/:version") { request, context -> Response in
            var request = request
            let (name, version) = (try context.pathParameter("name"), try context.pathParameter("version"))
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
            return try await self.answering {
                try await self.calls.run(for: context.user ?? "") {
                    try await self.consume(name, version: version, body: body)
                }
            }
        }
        router.get("/api/:name/:version/swagger.json") { _, context -> Response in
            try await self.answering { try Response.json(try await self.service(context).swagger()) }
        }
        // Not in ML Server's API: the same API as OpenAPI 3.0, which swift-openapi-generator reads.
        router.get("/api/:name/:version/openapi.json") { request, context -> Response in
            try await self.answering { try Response.json(try await self.service(context).openAPI(serverURL: Self.serverURL(of: request).map { $0 + context.mountPrefix })) }
        }
    }

    /// One consume call of `name`/`version` with `body`'s inputs.
    private func consume(_ name: String, version: String, body: JSONValue) async throws -> Response {
        let service = try await self.client.getService(name, version: version)
        let inputs = try Self.inputs(body, for: service.info)
        do {
            return try Response.json(try await service.consume(inputs).webServiceResultJSON())
        } catch let error as MLDeployError where error.code == .cancelled && !Task.isCancelled {
            // Not the caller's cancellation: the version's workers were stopped under the call.
            guard try await self.client.listServices(name, version: version).isEmpty == false else {
                throw MLDeployError.notFound("\(name)/\(version) was deleted while it was being called.")
            }
            throw ServerError.retryAfter(
                .serviceUnavailable, "\(name)/\(version) was redeployed while it was being called; call it again.", seconds: 0, exceptionType: "cancelled"
            )
        }
    }

    /// The typed inputs of a consume body: a JSON object keyed by input name, each value decoded as
    /// its declared type; an unknown name is an `input-mismatch`.
    static func inputs(_ body: JSONValue, for service: ServiceInfo) throws -> [String: MLValue] {
        guard let object = body.objectValue else {
            throw MLDeployError(code: .inputMismatch, message: "The inputs of \(service.name)/\(service.version) must be a JSON object keyed by input name.")
        }
        let types = Dictionary(service.inputs.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
        var inputs: [String: MLValue] = [:]
        for member in object {
            guard let type = types[member.key] else {
                throw MLDeployError(
                    code: .inputMismatch,
                    message: "\(service.name)/\(service.version) has no input '\(member.key)'; its inputs are \(service.inputs.map(\.name).joined(separator: ", "))."
                )
            }
            do {
                inputs[member.key] = try MLValue(json: member.value, as: type, parameter: member.key, direction: .input)
            } catch let error as MLDeployError {
                throw MLDeployError(code: .inputMismatch, message: "Input '\(member.key)' of \(service.name)/\(service.version): \(error.message)")
            }
        }
        return inputs
    }

    /// The base URL a client reached this server at (its `Host` header; `X-Forwarded-Proto` for the
    /// scheme behind a proxy), for documents that name it.
    static func serverURL(of request: Request) -> String? {
        guard let host = request.head.authority else { return nil }
        let scheme = request.headers[HTTPFields.Element.Name("X-Forwarded-Proto")!].flatMap { ["http", "https"].contains($0) ? $0 : nil } ?? "http"
        return "\(scheme)://\(host)"
    }
}
