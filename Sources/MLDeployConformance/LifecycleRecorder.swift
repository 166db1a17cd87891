import Foundation
import MLDeploy
import Synchronization

/// Wraps the backend under test and records the lifecycle calls the client makes, forwarding every
/// call unchanged. Lets the suite check the order initializer → authentication → operations →
/// destructor on any backend.
final class LifecycleRecorder: Backend {
    enum Event: Equatable, CustomStringConvertible {
        case initialize
        case authenticate
        case operation
        case shutdown

        var description: String {
            switch self {
            case .initialize: return "initialize"
            case .authenticate: return "authenticate"
            case .operation: return "operation"
            case .shutdown: return "shutdown"
            }
        }
    }

    let inner: any Backend
    private let log = Mutex<[Event]>([])
    private let artifacts = Mutex<[[String]]>([])

    /// The artifact names of every response the backend itself returned (consume calls and batch
    /// results), before the client filters them: what the backend would hand any caller.
    var returnedArtifactNames: [[String]] {
        self.artifacts.withLock { $0 }
    }

    init(_ inner: any Backend) {
        self.inner = inner
    }

    /// The events so far, with consecutive operations collapsed into one.
    var events: [Event] {
        self.log.withLock { events in
            events.reduce(into: [Event]()) { collapsed, event in
                if event == .operation, collapsed.last == .operation { return }
                collapsed.append(event)
            }
        }
    }

    private func note(_ event: Event) {
        self.log.withLock { $0.append(event) }
    }

    var capabilities: BackendCapabilities { self.inner.capabilities }

    func initialize(context: BackendContext) async throws {
        self.note(.initialize)
        try await self.inner.initialize(context: context)
    }

    func authenticate(_ credentials: AuthContext) async throws {
        self.note(.authenticate)
        try await self.inner.authenticate(credentials)
    }

    func shutdown() async throws {
        self.note(.shutdown)
        try await self.inner.shutdown()
    }

    func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        self.note(.operation)
        return try await self.inner.getService(name, version: version)
    }

    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        self.note(.operation)
        return try await self.inner.listServices(query)
    }

    func deleteService(_ name: String, version: String) async throws {
        self.note(.operation)
        try await self.inner.deleteService(name, version: version)
    }

    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        self.note(.operation)
        return try await self.inner.deployService(definition)
    }

    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        self.note(.operation)
        return try await self.inner.redeployService(definition)
    }

    func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        self.note(.operation)
        return try await self.inner.deployRealtime(definition)
    }

    func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        self.note(.operation)
        return try await self.inner.redeployRealtime(definition)
    }

    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        self.note(.operation)
        let response = try await self.inner.consume(request)
        self.artifacts.withLock { $0.append(response.artifactNames) }
        return response
    }

    func startBatch(_ request: BatchRequest) async throws -> String {
        self.note(.operation)
        return try await self.inner.startBatch(request)
    }

    func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        self.note(.operation)
        let status = try await self.inner.batchStatus(batch, includeResults: includeResults)
        self.artifacts.withLock { names in names += status.results.map(\.response.artifactNames) }
        return status
    }

    func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        self.note(.operation)
        return try await self.inner.listBatchExecutions(service)
    }

    func cancelBatch(_ batch: BatchReference) async throws {
        self.note(.operation)
        try await self.inner.cancelBatch(batch)
    }

    func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        self.note(.operation)
        return try await self.inner.batchArtifactNames(batch, index: index)
    }

    func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        self.note(.operation)
        return try await self.inner.batchArtifact(batch, index: index, fileName: fileName)
    }

    func swagger(_ service: ServiceReference) async throws -> JSONValue {
        self.note(.operation)
        return try await self.inner.swagger(service)
    }
}
