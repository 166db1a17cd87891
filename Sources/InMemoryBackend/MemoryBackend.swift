import Foundation
import Logging
import MLDeploy
import MLDeployONNX
import ServiceRuntime
import Synchronization

/// A deployment target that lives in the process: services are kept in memory and run locally.
///
/// It keeps ML Server's semantics exactly — deploying an existing name and version is a
/// ``MLDeploy/MLDeployError/Code/conflict``, redeploying a missing one is
/// ``MLDeploy/MLDeployError/Code/notFound``, a redeploy changes only what it sets, and a name's
/// versions list oldest to newest — so code tested against it behaves the same against a server.
///
/// Swift handler services run in-process; Python services run in a pool of `python3` workers
/// (``ServiceRuntime/PythonRuntime``), started on first use.
///
/// It is also the framework's test double: ``faults`` injects failures and latency into any operation.
///
/// The store belongs to the instance: every ``MLDeploy/DeployClient`` created from the `memory:` URI
/// gets a fresh one; pass one instance with `DeployTarget.backend(_:)` to share it.
public final class MemoryBackend: ConfigurableBackend, LocalRuntimeHosting {
    /// Everything but swagger (the client generates swagger from the metadata).
    public let capabilities: BackendCapabilities = [.pythonServices, .swiftHandlers, .realtime, .batch, .batchArtifacts]

    /// Failures and latency to inject; see ``FaultPlan``.
    public let faults = FaultPlan()

    private struct StoredVersion {
        var info: ServiceInfo
        var implementation: ServiceImplementation
        var objects: [String: ServiceObject]
        var models: [String: ServiceObject]

        var namespace: [String: ServiceObject] {
            self.models.merging(self.objects) { _, object in object }
        }
    }

    private struct Store {
        /// Versions per name, in deploy order (oldest first).
        var services: [String: [StoredVersion]] = [:]
        /// Who authenticated, recorded as `versionPublishedBy`.
        var principal: String?
    }

    private let store = Mutex(Store())
    private let runtime: LocalRuntime
    /// The runtime this backend runs services with (``ServiceRuntime/LocalRuntimeHosting``).
    public var localRuntime: LocalRuntime { self.runtime }
    private let batches = BatchCoordinator()

    /// Creates an empty backend.
    ///
    /// - Parameters:
    ///   - handlers: Where persisted handler names resolve (in-memory services carry their handler,
    ///     so this matters only for ``ServiceRuntime/ServiceImplementation/swiftHandlerNamed(_:)``).
    ///   - python: How Python workers are run, or `nil` to refuse running Python services.
    public init(handlers: HandlerRegistry = .shared, python: PythonRuntime.Configuration? = PythonRuntime.Configuration()) {
        let logger = Logger(label: "mldeploy.backend.memory")
        self.runtime = LocalRuntime(handlers: handlers, python: python.map { PythonRuntime(configuration: $0, logger: logger) }, logger: logger)
    }

    /// Creates an empty backend, reading the Python runtime's settings from the `python.*` options
    /// (see ``ServiceRuntime/PythonRuntime/Configuration/init(options:)``).
    public convenience init(configuration: BackendConfiguration) throws {
        self.init(python: try PythonRuntime.Configuration(options: configuration.options))
        self.runtime.realtime.configureBatching(try RealtimeBatching.rules(options: configuration.options))
    }

    /// Records who authenticated, so deployed versions name their publisher. Any credentials are
    /// accepted: there is nobody to check them against.
    public func authenticate(_ credentials: AuthContext) async throws {
        self.store.withLock { $0.principal = credentials.passwordCredentials?.username ?? credentials.aadOptions?.username }
    }

    /// Cancels every batch execution and stops the Python workers. The services stay, so a new client
    /// on the same instance sees them (and starts new workers).
    public func shutdown() async throws {
        await self.batches.cancelAll()
        await self.runtime.shutdown()
    }

    // MARK: Reading

    /// The version, or the most recently deployed one; `notFound` if absent.
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try await self.faults.apply(.getService)
        return try self.store.withLock { store in try Self.find(name, version, in: store).info }
    }

    /// Services sorted by name, each name's versions oldest first.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        try await self.faults.apply(.listServices)
        return self.store.withLock { store in
            switch query {
            case .all:
                return store.services.keys.sorted().flatMap { store.services[$0]!.map(\.info) }
            case .named(let name):
                return store.services[name]?.map(\.info) ?? []
            case .version(let name, let version):
                return store.services[name]?.filter { $0.info.version == version }.map(\.info) ?? []
            }
        }
    }

    private static func find(_ name: String, _ version: String?, in store: Store) throws -> StoredVersion {
        guard let versions = store.services[name], !versions.isEmpty else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        guard let version else { return versions[versions.count - 1] }
        guard let found = versions.first(where: { $0.info.version == version }) else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        return found
    }

    // MARK: Writing

    /// Removes one version and cancels its batch executions.
    public func deleteService(_ name: String, version: String) async throws {
        try await self.faults.apply(.deleteService)
        try self.store.withLock { store in
            guard let index = store.services[name]?.firstIndex(where: { $0.info.version == version }) else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            store.services[name]!.remove(at: index)
            if store.services[name]!.isEmpty { store.services[name] = nil }
        }
        await self.batches.cancelAll(for: ServiceReference(name: name, version: version))
        await self.runtime.evict(ServiceReference(name: name, version: version))
    }

    /// Stores a new version (a UUID version when none is given); `conflict` if it exists.
    public func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.faults.apply(.deployService)
        try definition.validate(for: .deploy)
        guard let implementation = ServiceImplementation(definition) else {
            throw MLDeployError.invalidArgument("Service '\(definition.name)' has no code and no handler.")
        }
        try await self.runtime.checkCode(definition.code, initCode: definition.initCode, service: definition.name)
        let info = try self.insert(
            name: definition.name,
            version: definition.version,
            implementation: implementation,
            objects: definition.objects ?? [:],
            models: definition.models ?? [:]
        ) { version, principal in
            ServiceInfo(
                name: definition.name,
                version: version,
                description: definition.description,
                operationID: definition.effectiveAlias,
                inputs: definition.inputs ?? [],
                outputs: definition.outputs ?? [],
                runtime: implementation.runtime,
                artifacts: definition.artifacts ?? [],
                creationTime: Date(),
                publishedBy: definition.publishedBy ?? principal,
                code: definition.code,
                initCode: definition.initCode,
                handlerName: definition.handler?.name
            )
        }
        try await self.runtime.prepare(info, implementation: implementation, namespace: definition.namespace)
        return info
    }

    /// Changes the fields the definition sets, atomically; `notFound` if the version is absent.
    public func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.faults.apply(.redeployService)
        try definition.validate(for: .redeploy)
        try await self.runtime.checkCode(definition.code, initCode: definition.initCode, service: definition.name)
        let info = try self.update(definition.name, definition.version!) { stored in
            guard stored.info.runtime != .realtime else {
                throw MLDeployError.invalidArgument("'\(definition.name)' version '\(stored.info.version)' is a realtime service: redeploy it as one (its model, description or alias).")
            }
            if let description = definition.description { stored.info.description = description }
            if let alias = definition.alias { stored.info.operationID = alias }
            if let implementation = ServiceImplementation(definition) {
                stored.implementation = implementation
                stored.info.runtime = implementation.runtime
                stored.info.code = definition.code
                stored.info.initCode = definition.initCode
                stored.info.handlerName = definition.handler?.name
                if definition.alias == nil, let handler = definition.handler, stored.info.operationID == nil {
                    stored.info.operationID = handler.name
                }
            } else if let initCode = definition.initCode {
                stored.info.initCode = initCode
                if case .python(let code, _, let revision) = stored.implementation {
                    stored.implementation = .python(code: code, initCode: initCode, revision: revision)
                }
            }
            if let inputs = definition.inputs { stored.info.inputs = inputs }
            if let outputs = definition.outputs { stored.info.outputs = outputs }
            if let artifacts = definition.artifacts { stored.info.artifacts = artifacts }
            if let objects = definition.objects { stored.objects = objects }
            if let models = definition.models { stored.models = models }
            stored.implementation = stored.implementation.revised()  // running workers hold the old code and objects
        }
        await self.runtime.evict(info.reference)
        return info
    }

    /// Stores a realtime version with the fixed `inputData`/`outputData` schema.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.faults.apply(.deployRealtime)
        try definition.validate(for: .deploy)
        try RealtimeDefinition.checkScorable(definition.serializedModel)
        return try self.insert(
            name: definition.name,
            version: definition.version,
            implementation: .realtime(model: definition.serializedModel!),
            objects: [:],
            models: [:]
        ) { version, principal in
            ServiceInfo(
                name: definition.name,
                version: version,
                description: definition.description,
                operationID: definition.alias,
                inputs: RealtimeDefinition.inputs,
                outputs: RealtimeDefinition.outputs,
                runtime: .realtime,
                creationTime: Date(),
                publishedBy: definition.publishedBy ?? principal
            )
        }
    }

    /// Changes a realtime version's description, alias or model.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.faults.apply(.redeployRealtime)
        try definition.validate(for: .redeploy)
        try RealtimeDefinition.checkScorable(definition.serializedModel)
        return try self.update(definition.name, definition.version!) { stored in
            guard stored.info.runtime == .realtime else {
                throw MLDeployError.invalidArgument("'\(definition.name)' version '\(stored.info.version)' is not a realtime service: redeploy it as a Python or Swift service.")
            }
            if let description = definition.description { stored.info.description = description }
            if let alias = definition.alias { stored.info.operationID = alias }
            if let model = definition.serializedModel { stored.implementation = .realtime(model: model) }
        }
    }

    /// Adds a version atomically: the conflict check and the insertion happen under one lock.
    private func insert(
        name: String,
        version: String?,
        implementation: ServiceImplementation,
        objects: [String: ServiceObject],
        models: [String: ServiceObject],
        makeInfo: (String, String?) -> ServiceInfo
    ) throws -> ServiceInfo {
        try self.store.withLock { store in
            let version = version ?? UUID().uuidString.lowercased()
            if store.services[name]?.contains(where: { $0.info.version == version }) == true {
                throw MLDeployError.conflict(name: name, version: version)
            }
            let info = makeInfo(version, store.principal)
            store.services[name, default: []].append(StoredVersion(info: info, implementation: implementation, objects: objects, models: models))
            return info
        }
    }

    /// Changes a version atomically: `change` works on a copy that is stored only if it succeeds.
    private func update(_ name: String, _ version: String, _ change: (inout StoredVersion) throws -> Void) throws -> ServiceInfo {
        try self.store.withLock { store in
            guard let index = store.services[name]?.firstIndex(where: { $0.info.version == version }) else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            var copy = store.services[name]![index]
            try change(&copy)
            store.services[name]![index] = copy
            return copy.info
        }
    }

    // MARK: Running

    /// A realtime version's parsed model (``ServiceRuntime/LocalRuntimeHosting``).
    public func realtimeModel(_ service: ServiceReference) async throws -> ONNXModel {
        let stored = try self.store.withLock { try Self.find(service.name, service.version, in: $0) }
        return try self.parsedRealtimeModel(service, stored.implementation)
    }

    /// Runs one call through the local runtime.
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        try await self.faults.apply(.consume)
        let stored = try self.store.withLock { try Self.find(request.service.name, request.service.version, in: $0) }
        return try await self.runtime.run(stored.info, implementation: stored.implementation, namespace: stored.namespace, inputs: request.inputs)
    }

    /// Starts running the records in the background and returns the execution id.
    public func startBatch(_ request: BatchRequest) async throws -> String {
        try await self.faults.apply(.startBatch)
        let stored = try self.store.withLock { try Self.find(request.service.name, request.service.version, in: $0) }
        let bound = try request.records.map { try stored.info.bindInputs($0) }
        let runtime = self.runtime
        return await self.batches.start(service: stored.info, records: bound, parallelCount: request.parallelCount) { _, inputs in
            try await runtime.run(stored.info, implementation: stored.implementation, namespace: stored.namespace, inputs: inputs)
        }
    }

    /// The execution's state and, if asked, its finished records' responses.
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        try await self.faults.apply(.batchStatus)
        return try await self.batches.status(batch, includeResults: includeResults)
    }

    /// The version's execution ids, oldest first.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        try await self.faults.apply(.listBatchExecutions)
        _ = try self.store.withLock { try Self.find(service.name, service.version, in: $0) }
        return await self.batches.executionIDs(for: service)
    }

    /// Cancels and deletes an execution.
    public func cancelBatch(_ batch: BatchReference) async throws {
        try await self.faults.apply(.cancelBatch)
        try await self.batches.cancel(batch)
    }

    /// The artifact names of one finished record.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        try await self.faults.apply(.batchArtifacts)
        return try await self.batches.artifactNames(batch, index: index)
    }

    /// The bytes of one artifact of one finished record.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        try await self.faults.apply(.batchArtifacts)
        return try await self.batches.artifact(batch, index: index, fileName: fileName)
    }
}
