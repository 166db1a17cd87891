import Foundation

/// What kind of code runs a service.
///
/// A string-backed struct (not an enum) because servers may report runtimes this version does not
/// know; the wire spellings are kept exactly (`"Python"`, `"R"`, `"Realtime"`).
public struct RuntimeType: Hashable, Sendable, CustomStringConvertible {
    /// The wire spelling.
    public let rawValue: String

    /// A runtime from its wire spelling.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// The wire spelling.
    public var description: String { self.rawValue }

    /// Python `code`/`initCode`, run by the Python runtime.
    public static let python = RuntimeType("Python")
    /// R code (ML Server only; MLDeploy stores but cannot run it).
    public static let r = RuntimeType("R")
    /// A serialized model scored natively (`deploy_realtime`).
    public static let realtime = RuntimeType("Realtime")
    /// A Swift handler, run in-process.
    public static let swift = RuntimeType("Swift")
}

/// A deployed service version's metadata: the `WebService` object of the ML Server protocol.
///
/// This is what listing returns. ``Service`` wraps it with the ability to consume.
public struct ServiceInfo: Sendable, Hashable {
    /// The service name.
    public var name: String
    /// The version.
    public var version: String
    /// The description, if one was given.
    public var description: String?
    /// The operation id (the Python SDK's `alias`), or `nil` for the default `consume`.
    public var operationID: String?
    /// The input parameters, in call order.
    public var inputs: [ParameterDefinition]
    /// The output parameters.
    public var outputs: [ParameterDefinition]
    /// What runs the service.
    public var runtime: RuntimeType
    /// The artifact file names each call returns (`outputFileNames`).
    public var artifacts: [String]
    /// When the version was published, if the backend records it.
    public var creationTime: Date?
    /// Who published the version, if the backend records it (`versionPublishedBy`).
    public var publishedBy: String?
    /// The snapshot holding the service's objects, if the backend uses snapshots.
    public var snapshotID: String?
    /// The Python code run per call, for Python services.
    public var code: String?
    /// The Python code run once per worker, for Python services.
    public var initCode: String?
    /// The Swift handler's name, for Swift services.
    public var handlerName: String?
    /// The caller's permission on the service as the server reports it (`myPermissionOnService`).
    public var permission: String?

    /// Creates service metadata.
    public init(
        name: String,
        version: String,
        description: String? = nil,
        operationID: String? = nil,
        inputs: [ParameterDefinition] = [],
        outputs: [ParameterDefinition] = [],
        runtime: RuntimeType,
        artifacts: [String] = [],
        creationTime: Date? = nil,
        publishedBy: String? = nil,
        snapshotID: String? = nil,
        code: String? = nil,
        initCode: String? = nil,
        handlerName: String? = nil,
        permission: String? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.operationID = operationID
        self.inputs = inputs
        self.outputs = outputs
        self.runtime = runtime
        self.artifacts = artifacts
        self.creationTime = creationTime
        self.publishedBy = publishedBy
        self.snapshotID = snapshotID
        self.code = code
        self.initCode = initCode
        self.handlerName = handlerName
        self.permission = permission
    }

    /// The name the service's operation is called by: ``operationID``, or `"consume"`.
    public var alias: String { self.operationID ?? "consume" }

    /// The consume path, `/api/{name}/{version}`.
    public var apiPath: String { "/api/\(self.name)/\(self.version)" }

    /// The name and version as a reference.
    public var reference: ServiceReference { ServiceReference(name: self.name, version: self.version) }
}

/// A service name and version: the key of a deployed service version.
public struct ServiceReference: Sendable, Hashable, CustomStringConvertible {
    /// The service name.
    public var name: String
    /// The version.
    public var version: String

    /// Creates a reference.
    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// `name/version`.
    public var description: String { "\(self.name)/\(self.version)" }
}
