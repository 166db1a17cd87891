import Foundation

/// A deployment target: where services are stored and run.
///
/// This is the Swift form of the Python SDK's `Operationalization`. A ``DeployClient`` drives a
/// backend through its lifecycle — ``initialize(context:)``, then ``authenticate(_:)`` when the caller
/// gave credentials, then any number of operations, possibly concurrent, then ``shutdown()`` — and
/// never calls an operation outside that window.
///
/// The client validates everything it can before calling: names and versions follow ``NameRules``,
/// definitions passed ``ServiceDefinition/validate(for:)``, consume inputs were bound to the schema.
/// Backends still validate what arrives from elsewhere (the REST server hands them raw requests).
///
/// ## Implementing a backend
///
/// Implement the required operations; the optional ones (realtime, batch, swagger) have defaults that
/// fail with ``MLDeployError/Code/unsupported``, and ``capabilities`` tells the client which you
/// support so it can refuse early with a clear error. Run the conformance suite
/// (`MLDeployConformance`) against your backend — see `docs/writing-a-backend.md`.
///
/// Errors should be ``MLDeployError``s with the codes the conformance suite expects:
/// ``MLDeployError/Code/notFound`` for a missing service or version, ``MLDeployError/Code/conflict``
/// for deploying an existing version.
public protocol Backend: AnyObject, Sendable {
    /// What this backend supports. The client checks it before calling optional operations.
    var capabilities: BackendCapabilities { get }

    /// The *initializer* stage: prepare resources (open stores, start pools). Called once, first.
    func initialize(context: BackendContext) async throws

    /// The *authentication* stage: called once after ``initialize(context:)``, only when the caller
    /// gave credentials.
    func authenticate(_ credentials: AuthContext) async throws

    /// The *destructor* stage: release everything (workers, handles, files). Called once, last.
    func shutdown() async throws

    /// The version `version` of service `name`, or its latest (most recently deployed) version when
    /// `version` is `nil`.
    func getService(_ name: String, version: String?) async throws -> ServiceInfo

    /// The services matching `query`; versions of one name are ordered oldest to newest.
    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo]

    /// Deletes one version.
    func deleteService(_ name: String, version: String) async throws

    /// Deploys a new version of a standard service. `definition.version == nil` asks the backend to
    /// generate one (a UUID string).
    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo

    /// Changes an existing version; `nil` fields stay unchanged. `definition.version` is always set.
    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo

    /// Deploys a new version of a realtime service.
    func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo

    /// Changes an existing realtime version; `nil` fields stay unchanged. The version is always set.
    func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo

    /// Runs one call of a service.
    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse

    /// Starts a batch execution and returns its id.
    func startBatch(_ request: BatchRequest) async throws -> String

    /// The state of a batch execution, with the results of the finished records when
    /// `includeResults` is true.
    func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus

    /// The ids of a service version's batch executions.
    func listBatchExecutions(_ service: ServiceReference) async throws -> [String]

    /// Cancels a batch execution and deletes it.
    func cancelBatch(_ batch: BatchReference) async throws

    /// The artifact file names record `index` of a batch produced.
    func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String]

    /// The bytes of one artifact of record `index` of a batch.
    func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data

    /// The service's swagger document, as the backend serves it.
    func swagger(_ service: ServiceReference) async throws -> JSONValue
}

extension Backend {
    /// No preparation.
    public func initialize(context: BackendContext) async throws {}

    /// Credentials are accepted and ignored, as the Python base class does.
    public func authenticate(_ credentials: AuthContext) async throws {}

    /// Nothing to release.
    public func shutdown() async throws {}

    /// The name the backend's type has, for error messages.
    var typeName: String { String(describing: type(of: self)) }

    /// Unsupported unless implemented.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        throw MLDeployError.unsupported("realtime services", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        throw MLDeployError.unsupported("realtime services", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func startBatch(_ request: BatchRequest) async throws -> String {
        throw MLDeployError.unsupported("batch execution", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        throw MLDeployError.unsupported("batch execution", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        throw MLDeployError.unsupported("batch execution", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func cancelBatch(_ batch: BatchReference) async throws {
        throw MLDeployError.unsupported("batch execution", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        throw MLDeployError.unsupported("batch artifacts", backend: self.typeName)
    }

    /// Unsupported unless implemented.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        throw MLDeployError.unsupported("batch artifacts", backend: self.typeName)
    }

    /// Generated from the service's metadata (``SwaggerDocument``), for backends that serve none.
    public func swagger(_ service: ServiceReference) async throws -> JSONValue {
        SwaggerDocument.make(for: try await self.getService(service.name, version: service.version))
    }
}

/// Which services ``Backend/listServices(_:)`` returns: the three forms of `list_services`.
public enum ServiceQuery: Sendable, Hashable {
    /// Every version of every service.
    case all
    /// Every version of one service, oldest first.
    case named(String)
    /// One version of one service (an empty list if it does not exist).
    case version(name: String, version: String)
}

/// One call of a service, as the client hands it to a backend.
public struct ConsumeRequest: Sendable {
    /// The service as the caller knows it (its output schema types the response).
    public var service: ServiceInfo
    /// The inputs, already bound to the input schema by the client.
    public var inputs: [String: MLValue]

    /// Creates a request.
    public init(service: ServiceInfo, inputs: [String: MLValue]) {
        self.service = service
        self.inputs = inputs
    }
}

/// A batch execution request.
public struct BatchRequest: Sendable {
    /// The service as the caller knows it.
    public var service: ServiceInfo
    /// One input set per record, in order, each already bound to the input schema.
    public var records: [[String: MLValue]]
    /// How many records may run at once (at least 1).
    public var parallelCount: Int

    /// Creates a request.
    public init(service: ServiceInfo, records: [[String: MLValue]], parallelCount: Int) {
        self.service = service
        self.records = records
        self.parallelCount = parallelCount
    }
}

/// A batch execution: its service and id.
public struct BatchReference: Sendable, Hashable, CustomStringConvertible {
    /// The service version the batch runs.
    public var service: ServiceReference
    /// The execution id.
    public var executionID: String

    /// Creates a reference.
    public init(service: ServiceReference, executionID: String) {
        self.service = service
        self.executionID = executionID
    }

    /// `name/version#id`.
    public var description: String { "\(self.service)#\(self.executionID)" }
}
