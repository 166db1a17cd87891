import Foundation
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// `POST /api/{name}/{version}` with the inputs encoded by the service's schema (keys in
    /// definition order), answered as a typed ``MLDeploy/ServiceResponse``. A service whose code
    /// raised is a response with `success == false`, not an error.
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        let service = request.service
        // A service call is stateless by ML Server's design (each runs in a fresh pooled session), so
        // it may be repeated: the consume retry policy resends it on 429/502/503, statuses that mean
        // it did not run, and after a connection that dropped.
        let answer = try await self.sendJSON(
            .post, Self.path("api", service.name, service.version), json: .object(try Self.inputsJSON(request.inputs, for: service)),
            idempotent: true, consume: true
        )
        return try ServiceResponse(webServiceResultJSON: answer, service: service)
    }

    /// `GET /api/{name}/{version}/swagger.json`.
    public func swagger(_ service: ServiceReference) async throws -> JSONValue {
        try await self.sendJSON(.get, Self.path("api", service.name, service.version, "swagger.json"))
    }

    /// The `InputParameters` object: each declared input present in `inputs`, in declaration order,
    /// in its wire encoding.
    static func inputsJSON(_ inputs: [String: MLValue], for service: ServiceInfo) throws -> JSONObject {
        let bound = try service.bindInputs(inputs)
        var object = JSONObject()
        for definition in service.inputs {
            guard let value = bound[definition.name] else { continue }
            object.append(definition.name, try value.json(as: definition.type, parameter: definition.name))
        }
        return object
    }
}
