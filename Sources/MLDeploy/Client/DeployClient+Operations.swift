extension DeployClient {
    /// Starts a fluent definition of a standard service (`client.service(name)` in Python).
    public func service(_ name: String) -> ServiceBuilder {
        ServiceBuilder(name: name, client: self)
    }

    /// Starts a fluent definition of a realtime service (`client.realtime_service(name)` in Python).
    public func realtimeService(_ name: String) -> RealtimeServiceBuilder {
        RealtimeServiceBuilder(name: name, client: self)
    }

    /// Fetches a service version, or the latest (most recently deployed) version when `version` is
    /// `nil`.
    ///
    /// - Throws: ``MLDeployError``: ``MLDeployError/Code/notFound``, or an invalid name or version.
    public func getService(_ name: String, version: String? = nil) async throws -> Service {
        try NameRules.checkServiceName(name)
        if let version { try NameRules.checkVersion(version) }
        let info = try await self.perform(.getService, service: name, version: version) {
            try await self.backend.getService(name, version: version)
        }
        return Service(info: info, client: self)
    }

    /// Lists services: all of them, every version of `name` (oldest first), or one version.
    ///
    /// - Throws: ``MLDeployError``: an invalid name or version, or a version without a name
    ///   (``MLDeployError/Code/invalidArgument``).
    public func listServices(_ name: String? = nil, version: String? = nil) async throws -> [ServiceInfo] {
        let query: ServiceQuery
        switch (name, version) {
        case (nil, nil):
            query = .all
        case (let name?, nil):
            try NameRules.checkServiceName(name)
            query = .named(name)
        case (let name?, let version?):
            try NameRules.checkServiceName(name)
            try NameRules.checkVersion(version)
            query = .version(name: name, version: version)
        case (nil, .some):
            throw MLDeployError.invalidArgument("Listing by version needs a service name too.")
        }
        return try await self.perform(.listServices, service: name, version: version) {
            try await self.backend.listServices(query)
        }
    }

    /// Deletes one version of a service. The version is required: nothing is ever deleted implicitly.
    ///
    /// - Throws: ``MLDeployError``: ``MLDeployError/Code/missingVersion`` when `version` is `nil` or
    ///   empty, ``MLDeployError/Code/notFound`` when it does not exist.
    public func deleteService(_ name: String, version: String?) async throws {
        try NameRules.checkServiceName(name)
        guard let version, !version.isEmpty else {
            throw MLDeployError(
                code: .missingVersion,
                message: "Deleting service '\(name)' needs an explicit version; list its versions to pick one."
            )
        }
        try NameRules.checkVersion(version)
        try await self.perform(.deleteService, service: name, version: version) {
            try await self.backend.deleteService(name, version: version)
        }
    }

    /// Deploys a new version of a standard service.
    ///
    /// - Throws: ``MLDeployError``: a validation failure, ``MLDeployError/Code/unsupported`` if the
    ///   backend cannot run this kind of service, ``MLDeployError/Code/conflict`` if the version exists.
    public func deployService(_ definition: ServiceDefinition) async throws -> Service {
        try definition.validate(for: .deploy)
        try self.requireRuntime(of: definition)
        let info = try await self.perform(.deployService, service: definition.name, version: definition.version) {
            try await self.backend.deployService(definition)
        }
        return Service(info: info, client: self)
    }

    /// Deploys a new version from a Python-style options dictionary (`deploy_service(name, **opts)`).
    /// See ``ServiceDefinition/init(name:options:)`` for the keys.
    public func deployService(_ name: String, options: JSONObject) async throws -> Service {
        try await self.deployService(ServiceDefinition(name: name, options: options))
    }

    /// Changes an existing version of a standard service; only the fields that are set change. With no
    /// version, the latest version is changed.
    ///
    /// - Throws: ``MLDeployError``: a validation failure or ``MLDeployError/Code/notFound``.
    public func redeployService(_ definition: ServiceDefinition) async throws -> Service {
        var definition = definition
        if definition.version == nil {
            try NameRules.checkServiceName(definition.name)
            definition.version = try await self.getService(definition.name).version
        }
        try definition.validate(for: .redeploy)
        try self.requireRuntime(of: definition)
        let info = try await self.perform(.redeployService, service: definition.name, version: definition.version) { [definition] in
            try await self.backend.redeployService(definition)
        }
        return Service(info: info, client: self)
    }

    /// Changes an existing version from a Python-style options dictionary. See
    /// ``ServiceDefinition/init(name:options:)``.
    public func redeployService(_ name: String, options: JSONObject) async throws -> Service {
        try await self.redeployService(ServiceDefinition(name: name, options: options))
    }

    /// Deploys a new version of a realtime service.
    ///
    /// - Throws: ``MLDeployError``: a validation failure, ``MLDeployError/Code/unsupported`` if the
    ///   backend has no realtime support, ``MLDeployError/Code/conflict`` if the version exists.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> Service {
        try definition.validate(for: .deploy)
        try self.require(.realtime, for: "realtime services")
        let info = try await self.perform(.deployRealtime, service: definition.name, version: definition.version) {
            try await self.backend.deployRealtime(definition)
        }
        return Service(info: info, client: self)
    }

    /// Changes an existing version of a realtime service; with no version, the latest.
    ///
    /// - Throws: ``MLDeployError``: a validation failure or ``MLDeployError/Code/notFound``.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> Service {
        var definition = definition
        try self.require(.realtime, for: "realtime services")
        if definition.version == nil {
            try NameRules.checkServiceName(definition.name)
            definition.version = try await self.getService(definition.name).version
        }
        try definition.validate(for: .redeploy)
        let info = try await self.perform(.redeployRealtime, service: definition.name, version: definition.version) { [definition] in
            try await self.backend.redeployRealtime(definition)
        }
        return Service(info: info, client: self)
    }

    private func requireRuntime(of definition: ServiceDefinition) throws {
        switch definition.runtime {
        case .python?: try self.require(.pythonServices, for: "Python services")
        case .swift?: try self.require(.swiftHandlers, for: "Swift handler services")
        default: break
        }
    }
}
