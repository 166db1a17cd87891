import Foundation
import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// Realtime services: `POST /realtime-services/{name}[/{version}]` and
    /// `PATCH /realtime-services/{name}/{version}`, multipart with `description`, `operationId` and
    /// the `model` file. The model is stored as given; consuming one is a clear 400 until a scorer
    /// for its format exists.
    func addRealtimeRoutes(to router: Router<ServerRequestContext>) {
        router.post("/realtime-services/:name") { request, context -> Response in
            try await self.publishRealtime(request, context: context, version: nil)
        }
        router.post("/realtime-services/:name/:version") { request, context -> Response in
            try await self.publishRealtime(request, context: context, version: try context.pathParameter("version"))
        }
        router.patch("/realtime-services/:name/:version") { request, context -> Response in
            var request = request
            let (name, version) = (try context.pathParameter("name"), try context.pathParameter("version"))
            // The version and the right to change it first, then the body (a refusal never reads it).
            do {
                let current = try await self.answering { try await self.client.getService(name, version: version).info }
                try Self.requireChange(of: current, context: context)
            } catch let error as ServerError {
                throw context.refusingUnreadBody(error, of: request)
            }
            let body = try await request.spooledBody(limit: self.configuration.maximumUploadSize, directory: self.uploadDirectory)
            return try await self.answering {
                let form = try MultipartForm(contentType: request.headers[.contentType], body: body)
                let definition = Self.realtimeDefinition(name: name, version: version, form: form, context: context)
                return try Response.json(.string(try await self.client.redeployRealtime(definition).info.version))
            }
        }
    }

    private func publishRealtime(_ request: Request, context: ServerRequestContext, version: String?) async throws -> Response {
        var request = request
        let name = try context.pathParameter("name")
        do {
            try await self.answering { try await self.requirePublish(name, context) }
        } catch let error as ServerError {
            throw context.refusingUnreadBody(error, of: request)
        }
        let body = try await request.spooledBody(limit: self.configuration.maximumUploadSize, directory: self.uploadDirectory)
        return try await self.answering {
            let form = try MultipartForm(contentType: request.headers[.contentType], body: body)
            let definition = Self.realtimeDefinition(name: name, version: version, form: form, context: context)
            return try Response.json(.string(try await self.client.deployRealtime(definition).info.version), status: .created)
        }
    }

    private static func realtimeDefinition(name: String, version: String?, form: MultipartForm, context: ServerRequestContext) -> RealtimeDefinition {
        func text(_ field: String) -> String? { form[field].map { String(decoding: $0.bytes, as: UTF8.self) } }
        var definition = RealtimeDefinition(
            name: name, version: version, description: text("description"), alias: text("operationId"), serializedModel: form["model"]?.bytes
        )
        definition.publishedBy = context.user
        return definition
    }
}
