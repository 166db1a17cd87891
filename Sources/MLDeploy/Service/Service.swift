import Foundation

/// A deployed service version you can call — the Swift face of the Python SDK's dynamic `Service`.
///
/// Call it the way that reads best:
///
/// ```swift
/// let service = try await client.getService("TxService", version: "1.0")
/// try await service.consume(["hp": 120, "wt": 2.8])          // by name
/// try await service(120, 2.8)                               // positionally, in input order
/// try await service.manualTransmission(hp: 120, wt: 2.8)    // by its alias (operation id)
/// ```
///
/// Inputs are checked against the input schema before anything is sent; outputs come back typed by
/// the output schema (``ServiceResponse/outputs``).
///
/// The alias call is resolved at run time, like Python's generated method; a name that is not the
/// service's alias fails with ``MLDeployError/Code/invalidArgument``. Unlike Python, an alias never
/// shadows the built-in methods (`batch`, `swagger`, `capabilities`): real members win.
@dynamicMemberLookup
public struct Service: Sendable, CustomStringConvertible {
    /// The service's metadata.
    public let info: ServiceInfo
    /// The client the service is reached through.
    public let client: DeployClient

    /// Wraps metadata for calling through `client`.
    public init(info: ServiceInfo, client: DeployClient) {
        self.info = info
        self.client = client
    }

    /// The service name.
    public var name: String { self.info.name }
    /// The version.
    public var version: String { self.info.version }
    /// The alias (operation id): the name the service's operation is called by.
    public var alias: String { self.info.alias }
    /// The input parameters, in call order.
    public var inputs: [ParameterDefinition] { self.info.inputs }
    /// The output parameters.
    public var outputs: [ParameterDefinition] { self.info.outputs }

    /// `<TxService 1.0: manualTransmission(hp: numeric, wt: numeric) -> answer: data.frame>`.
    public var description: String {
        let inputs = self.info.inputs.map(\.description).joined(separator: ", ")
        let outputs = self.info.outputs.map(\.description).joined(separator: ", ")
        return "<\(self.name) \(self.version): \(self.alias)(\(inputs)) -> \(outputs.isEmpty ? "()" : outputs)>"
    }

    /// Calls the service with named inputs.
    ///
    /// - Returns: The response; check ``ServiceResponse/success`` — service code that failed still
    ///   returns a response.
    /// - Throws: ``MLDeployError``: ``MLDeployError/Code/inputMismatch`` or
    ///   ``MLDeployError/Code/invalidValue`` before sending; ``MLDeployError/Code/notFound`` if the
    ///   service is gone; whatever the backend reports.
    public func consume(_ inputs: [String: MLValue]) async throws -> ServiceResponse {
        let bound = try self.info.bindInputs(inputs)
        let response = try await self.client.perform(.consume, service: self.info.name, version: self.info.version) {
            try await self.client.backend.consume(ConsumeRequest(service: self.info, inputs: bound))
        }
        return response.keepingArtifacts(declaredBy: self.info)
    }

    /// Calls the service with inputs in input-definition order.
    public func consume(positional arguments: [MLValue]) async throws -> ServiceResponse {
        try await self.consume(try self.info.bindInputs(positional: arguments))
    }

    /// Calls the service through its alias; fails unless `alias` is the service's alias.
    public func consume(alias: String, _ inputs: [String: MLValue]) async throws -> ServiceResponse {
        try self.checkAlias(alias)
        return try await self.consume(inputs)
    }

    /// Calls the service with inputs in input-definition order: `try await service(120, 2.8)`.
    public func callAsFunction(_ arguments: MLValue...) async throws -> ServiceResponse {
        try await self.consume(positional: arguments)
    }

    /// The service's operation by alias, callable with keyword or positional arguments:
    /// `try await service.manualTransmission(hp: 120, wt: 2.8)`.
    public subscript(dynamicMember alias: String) -> ServiceOperation {
        ServiceOperation(service: self, alias: alias)
    }

    func checkAlias(_ alias: String) throws {
        guard alias == self.info.alias else {
            throw MLDeployError.invalidArgument(
                "Service '\(self.name)' version '\(self.version)' has no operation '\(alias)'; call it as '\(self.info.alias)' or with consume(_:)."
            )
        }
    }

    /// What the service offers, as the Python SDK's `capabilities()` dictionary reports it.
    public func capabilities() -> ServiceCapabilities {
        ServiceCapabilities(info: self.info)
    }

    /// The service's swagger (OpenAPI 2.0) document: the backend's own, or one generated from the
    /// schema when the backend serves none.
    public func swagger() async throws -> JSONValue {
        if self.client.capabilities.contains(.swagger) {
            return try await self.client.perform(.swagger, service: self.info.name, version: self.info.version) {
                try await self.client.backend.swagger(self.info.reference)
            }
        }
        return SwaggerDocument.make(for: self.info)
    }

    /// The service's API as an OpenAPI 3.0 document (``OpenAPIDocument``), for generating typed
    /// clients; `serverURL` becomes its `servers` entry.
    public func openAPI(serverURL: String? = nil) -> JSONValue {
        OpenAPIDocument.make(for: self.info, serverURL: serverURL)
    }
}

/// A service's operation reached by alias; see ``Service/subscript(dynamicMember:)``.
@dynamicCallable
public struct ServiceOperation: Sendable {
    /// The service.
    public let service: Service
    /// The alias used.
    public let alias: String

    /// Calls the operation. Unlabelled arguments bind to inputs in definition order, then labelled
    /// ones by name, as Python does with positional and keyword arguments.
    public func dynamicallyCall(withKeywordArguments arguments: KeyValuePairs<String, MLValue>) async throws -> ServiceResponse {
        try self.service.checkAlias(self.alias)
        var named: [String: MLValue] = [:]
        var position = 0
        var sawKeyword = false
        let definitions = self.service.info.inputs
        for (label, value) in arguments {
            if label.isEmpty {
                guard !sawKeyword else {
                    throw MLDeployError(code: .inputMismatch, message: "Positional arguments must come before named ones when calling '\(self.alias)'.")
                }
                guard position < definitions.count else {
                    throw MLDeployError(
                        code: .inputMismatch,
                        message: "'\(self.alias)' takes \(definitions.count) input(s) but more were given."
                    )
                }
                named[definitions[position].name] = value
                position += 1
            } else {
                sawKeyword = true
                guard named[label] == nil else {
                    throw MLDeployError(code: .inputMismatch, message: "Input '\(label)' of '\(self.alias)' was given twice.")
                }
                named[label] = value
            }
        }
        return try await self.service.consume(named)
    }
}

/// A service's description as the Python SDK's `Service.capabilities()` reports it.
public struct ServiceCapabilities: Sendable, Hashable {
    /// The consume path, `/api/{name}/{version}`.
    public var api: String
    /// The service name.
    public var name: String
    /// The version.
    public var version: String
    /// Who published the version.
    public var publishedBy: String?
    /// The runtime.
    public var runtime: RuntimeType
    /// The description.
    public var description: String?
    /// When the version was published.
    public var creationTime: Date?
    /// The snapshot id.
    public var snapshotID: String?
    /// The inputs.
    public var inputs: [ParameterDefinition]
    /// The outputs.
    public var outputs: [ParameterDefinition]
    /// The artifact file names.
    public var artifacts: [String]
    /// The operation's name (`consume` unless an alias was given).
    public var operationID: String
    /// The path of the swagger document, `/api/{name}/{version}/swagger.json`.
    public var swaggerPath: String

    /// Derives the capabilities from metadata.
    public init(info: ServiceInfo) {
        self.api = info.apiPath
        self.name = info.name
        self.version = info.version
        self.publishedBy = info.publishedBy
        self.runtime = info.runtime
        self.description = info.description
        self.creationTime = info.creationTime
        self.snapshotID = info.snapshotID
        self.inputs = info.inputs
        self.outputs = info.outputs
        self.artifacts = info.artifacts
        self.operationID = info.alias
        self.swaggerPath = info.apiPath + "/swagger.json"
    }
}
