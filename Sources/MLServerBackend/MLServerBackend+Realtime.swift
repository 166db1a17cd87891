import Foundation
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// `POST /realtime-services/{name}[/{version}]` with the Python SDK's multipart form
    /// (`description`, `operationId`, the model file), then the published version.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .deploy)
        let path = definition.version.map { Self.path("realtime-services", definition.name, $0) } ?? Self.path("realtime-services", definition.name)
        let answer = try await self.sendForm(.post, path, definition)
        let version = definition.version ?? answer.stringValue
        guard let version, !version.isEmpty else {
            throw MLDeployError(code: .invalidResponse, message: "Publishing realtime service \(definition.name) without a version answered \(answer), not the generated version.")
        }
        return try await self.getService(definition.name, version: version)
    }

    /// `PATCH /realtime-services/{name}/{version}` with the fields the definition gives.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .redeploy)
        guard let version = definition.version else { throw MLDeployError(code: .missingVersion, message: "Redeploying needs a version.") }
        do {
            _ = try await self.sendForm(.patch, Self.path("realtime-services", definition.name, version), definition)
        } catch let error as MLDeployError where error.code == .notFound {
            throw MLDeployError.serviceNotFound(name: definition.name, version: version)
        }
        return try await self.getService(definition.name, version: version)
    }

    private func sendForm(_ method: HTTPMethod, _ path: String, _ definition: RealtimeDefinition) async throws -> JSONValue {
        var form = MultipartFormBody()
        form.add(field: "description", definition.description)
        form.add(field: "operationId", definition.alias)
        if let model = definition.serializedModel { form.add(file: "model", filename: "model", model) }
        let response = try await self.send(method, path, body: .bytes(form.finished()), contentType: form.contentType, idempotent: method == .patch)
        return (try? JSONValue(parsing: response.bytes)) ?? .null
    }
}
