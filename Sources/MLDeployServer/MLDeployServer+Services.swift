import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// Service management (spec §3.5.1): list all, list a name's versions oldest first, get one,
    /// delete one.
    func addServiceRoutes(to router: Router<ServerRequestContext>) {
        router.get("/services") { _, _ -> Response in
            try await self.answering { try Response.json(.array(try await self.client.listServices().map { $0.webServiceJSON() })) }
        }
        router.get("/services/:name") { _, context -> Response in
            let name = try context.parameters.require("name")
            return try await self.answering {
                try Response.json(.array(try await self.client.listServices(name).map { $0.webServiceJSON() }))
            }
        }
        router.get("/services/:name/:version") { _, context -> Response in
            let (name, version) = (try context.parameters.require("name"), try context.parameters.require("version"))
            return try await self.answering {
                // An array of one, as the swagger says; the SDK takes either (spec §3.10 rule 4).
                try Response.json([try await self.client.getService(name, version: version).info.webServiceJSON()])
            }
        }
        router.delete("/services/:name/:version") { _, context -> Response in
            let (name, version) = (try context.parameters.require("name"), try context.parameters.require("version"))
            return try await self.answering {
                try await self.client.deleteService(name, version: version)
                return .empty()
            }
        }
    }

    /// Runs an operation, turning MLDeploy errors into their HTTP answers.
    func answering(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as MLDeployError {
            throw ServerError(error)
        }
    }
}
