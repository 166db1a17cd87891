import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// Service management: list all, list a name's versions oldest first, get one,
    /// delete one.
    func addServiceRoutes(to router: Router<ServerRequestContext>) {
        router.get("/services") { _, context -> Response in
            try await self.answering { try Response.json(.array(try await self.client.listServices().map { Self.webService($0, for: context) })) }
        }
        router.get("/services/:name") { _, context -> Response in
            let name = try context.pathParameter("name")
            return try await self.answering {
                try Response.json(.array(try await self.client.listServices(name).map { Self.webService($0, for: context) }))
            }
        }
        router.get("/services/:name/:version") { _, context -> Response in
            let (name, version) = (try context.pathParameter("name"), try context.pathParameter("version"))
            return try await self.answering {
                // An array of one, as the swagger says; the SDK takes either an object or its first element.
                try Response.json([Self.webService(try await self.client.getService(name, version: version).info, for: context)])
            }
        }
        router.delete("/services/:name/:version") { _, context -> Response in
            let (name, version) = (try context.pathParameter("name"), try context.pathParameter("version"))
            return try await self.answering {
                let info = try await self.client.getService(name, version: version).info
                try Self.requireChange(of: info, context: context)
                try await self.client.deleteService(name, version: version)
                return .empty()
            }
        }
    }

    /// The `WebService` JSON with the caller's `myPermissionOnService`.
    static func webService(_ info: ServiceInfo, for context: ServerRequestContext) -> JSONValue {
        var info = info
        let writable = context.role?.canChange(serviceOf: info.publishedBy, as: context.user ?? "") ?? false
        info.permission = writable ? "read/write" : "read only"
        return info.webServiceJSON()
    }

    /// Refuses (403) a change to `info` the caller's role does not allow.
    static func requireChange(of info: ServiceInfo, context: ServerRequestContext) throws {
        guard let role = context.role, role.canChange(serviceOf: info.publishedBy, as: context.user ?? "") else {
            throw ServerError(
                .forbidden,
                "\(context.user ?? "This user") (\(context.role?.rawValue ?? "no role")) may not change \(info.name)/\(info.version), published by \(info.publishedBy ?? "another user").",
                exceptionType: "permission-denied"
            )
        }
    }

    /// Refuses (403) publishing when the caller's role is Reader, or — as on ML Server — when the
    /// name belongs to another user: a name belongs to whoever published its first version, so no
    /// one else can add a version that becomes the "latest" its consumers get. Owners may publish
    /// under any name.
    func requirePublish(_ name: String, _ context: ServerRequestContext) async throws {
        guard context.role?.canPublish == true else {
            throw ServerError(.forbidden, "\(context.user ?? "This user") is a Reader and may not publish services.", exceptionType: "permission-denied")
        }
        guard context.role != .owner, let first = try await self.client.listServices(name).first, let publisher = first.publishedBy,
            publisher != context.user
        else { return }
        throw ServerError(
            .forbidden,
            "The service name '\(name)' belongs to \(publisher), who published its first version; \(context.user ?? "this user") may not add versions to it. Publish under another name (an Owner may publish under any name).",
            exceptionType: "permission-denied"
        )
    }

    /// Runs an operation, turning MLDeploy errors into their HTTP answers.
    func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as MLDeployError {
            throw ServerError(error)
        }
    }
}
