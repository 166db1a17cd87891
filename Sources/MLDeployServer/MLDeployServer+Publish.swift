import Foundation
import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// Publishing and redeploying: `POST /services/{name}` (a generated version),
    /// `POST /services/{name}/{version}`, and `PATCH /services/{name}/{version}` with a
    /// `PublishWebServiceRequest`. Each answers the version as a JSON string (the SDK parses it).
    func addPublishRoutes(to router: Router<ServerRequestContext>) {
        router.post("/services/:name") { request, context -> Response in
            try await self.publish(request, context: context, version: nil)
        }
        router.post("/services/:name/:version") { request, context -> Response in
            try await self.publish(request, context: context, version: try context.pathParameter("version"))
        }
        router.patch("/services/:name/:version") { request, context -> Response in
            var request = request
            let (name, version) = (try context.pathParameter("name"), try context.pathParameter("version"))
            // The version and the right to change it first, then the body.
            let current = try await self.answering { try await self.client.getService(name, version: version).info }
            try Self.requireChange(of: current, context: context)
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
            return try await self.answering {
                var definition = try await self.definition(name: name, version: version, from: body, context: context, requireCode: false)
                // The SDK sends a new snapshot with every redeploy, empty unless objects were given
                // (ML Server would drop the service's objects then); an empty one keeps them here.
                if definition.objects?.isEmpty == true { definition.objects = nil }
                let info = try await self.client.redeployService(definition).info
                return try Response.json(.string(info.version))
            }
        }
    }

    private func publish(_ request: Request, context: ServerRequestContext, version: String?) async throws -> Response {
        var request = request
        let name = try context.pathParameter("name")
        try await self.answering { try await self.requirePublish(name, context) }
        let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
        return try await self.answering {
            let definition = try await self.definition(name: name, version: version, from: body, context: context, requireCode: true)
            let info = try await self.client.deployService(definition).info
            return try Response.json(.string(info.version), status: .created)
        }
    }

    /// A service definition from a `PublishWebServiceRequest`: the snapshot's workspace objects are
    /// copied in (so the snapshot can be deleted at once, as the SDK does).
    func definition(name: String, version: String?, from body: JSONValue, context: ServerRequestContext, requireCode: Bool) async throws -> ServiceDefinition {
        guard case .object = body else {
            throw MLDeployError.invalidArgument("A publish request must be a JSON object (PublishWebServiceRequest).")
        }
        let runtime = try body.stringMember("runtimeType")
        if let runtime, runtime != "Python" {
            throw MLDeployError(code: .unsupported, message: "This server runs Python services; runtimeType '\(runtime)' is not supported.")
        }
        if runtime == nil, requireCode {
            throw MLDeployError(code: .unsupported, message: "This server runs Python services: send \"runtimeType\": \"Python\" (the protocol's default is R).")
        }
        func parameters(_ key: String) throws -> [ParameterDefinition]? {
            guard let value = body[key], !value.isNull else { return nil }
            guard let list = value.arrayValue else { throw MLDeployError.invalidArgument("'\(key)' must be an array of {name, type}.") }
            return try list.map { item in
                guard let name = item["name"]?.stringValue, let type = item["type"]?.stringValue else {
                    throw MLDeployError.invalidArgument("Every entry of '\(key)' needs a name and a type.")
                }
                return ParameterDefinition(name: name, type: try ParameterType(parsing: type))
            }
        }
        let code = try body.stringMember("code")
        if requireCode, code == nil {
            throw MLDeployError.invalidArgument("A publish request needs 'code'.")
        }
        var objects: [String: ServiceObject]?
        if let snapshotID = try body.stringMember("snapshotId") {
            let (user, isOwner) = context.identity
            objects = try await self.sessions.objects(ofSnapshot: snapshotID, user: user, isOwner: isOwner).mapValues { ServiceObject.pickled($0) }
        }
        var definition = ServiceDefinition(
            name: name, version: version, description: try body.stringMember("description"), alias: try body.stringMember("operationId"),
            code: code, initCode: try body.stringMember("initCode"), objects: objects,
            inputs: try parameters("inputParameterDefinitions"), outputs: try parameters("outputParameterDefinitions"),
            artifacts: try body["outputFileNames"].flatMap { value -> [String]? in
                guard !value.isNull else { return nil }
                guard let list = value.arrayValue else { throw MLDeployError.invalidArgument("'outputFileNames' must be an array of file names.") }
                return try list.map { item in
                    guard let name = item.stringValue else { throw MLDeployError.invalidArgument("'outputFileNames' must be an array of file names.") }
                    return name
                }
            }
        )
        definition.publishedBy = context.user
        return definition
    }
}
