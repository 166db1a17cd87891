import Foundation
import Logging
import MLDeploy
import MLDeployCrypto
import MLDeployONNX
import ServiceRuntime
import Synchronization

/// A deployment target on disk: services stored under a root directory and run locally.
///
/// Durable, crash-safe and safe to share: every write is atomic (temporary file, fsync, rename, fsync
/// of the directory); a deploy, redeploy or delete is all-or-nothing, even if the process is killed
/// at any point; several processes may use one root at once (`flock`), and readers never see a
/// partial version. Objects, models and realtime models are stored once per content (SHA-256) and
/// collected when nothing references them any more.
///
/// Python services run through ``ServiceRuntime/PythonRuntime``. Swift handler services are stored
/// by handler name and resolved against the ``ServiceRuntime/HandlerRegistry`` when called: deploying
/// a handler registers it in this process; other processes that open the store register their own
/// (an unregistered name fails at consume with ``MLDeploy/MLDeployError/Code/unresolvedHandler``).
///
/// The on-disk format is documented in `docs/filesystem-store.md`.
public final class FileStore: ConfigurableBackend, LocalRuntimeHosting, ManifestStore {
    /// Everything but swagger (the client generates swagger from the metadata).
    public let capabilities: BackendCapabilities = [.pythonServices, .swiftHandlers, .realtime, .batch, .batchArtifacts]

    /// The store's root directory.
    public let root: String
    let layout: StoreLayout
    let files: DurableFiles
    let index: StoreIndex
    private let runtime: LocalRuntime
    /// The runtime this backend runs services with (``ServiceRuntime/LocalRuntimeHosting``).
    public var localRuntime: LocalRuntime { self.runtime }
    private let handlers: HandlerRegistry
    private let batches = BatchCoordinator()
    /// Where stored handler names are resolved (``ServiceRuntime/ManifestStore``).
    package var handlerRegistry: HandlerRegistry { self.handlers }
    /// The store's batch executions (``ServiceRuntime/ManifestStore``).
    package var batchCoordinator: BatchCoordinator { self.batches }
    /// Who authenticated (``ServiceRuntime/ManifestStore``).
    package var principalName: String? { self.principal.withLock { $0 } }
    let logger: Logger
    private let principal = Mutex<String?>(nil)
    private let readOnly = Mutex(false)
    /// Realtime models' blobs, mapped once per content hash (blobs are content-addressed, so a
    /// mapping never goes stale). Handing the same `Data` to every call lets the runtime's model
    /// cache recognise it by identity instead of comparing the whole model per call.
    private let mappedModels = Mutex<[String: Data]>([:])
    /// How many mapped models are kept; beyond it the cache starts over.
    private static let mappedModelLimit = 64

    /// Whether this process can only read the store (a read-only mount or permissions).
    public var isReadOnly: Bool { self.readOnly.withLock { $0 } }
    /// How long the change log grows before a writer starts a new one.
    static let changeLogLimit = 1 << 20

    /// Whether opening creates a missing store (otherwise it is ``MLDeploy/MLDeployError/Code/notFound``).
    public let createsMissingStore: Bool
    /// Whether opening finishes or undoes a write that a crashed process left (otherwise the store
    /// is opened as found, which is what ``verify()`` wants: it reports the interrupted write).
    public let recoversOnOpen: Bool

    /// Whether writes are fsync'd. See ``init(root:handlers:python:create:recover:fsync:)``.
    public var isSynchronous: Bool { self.files.synchronous }

    /// Creates a store at `root`.
    ///
    /// - Parameters:
    ///   - root: The root directory.
    ///   - handlers: Where stored Swift handler names are resolved.
    ///   - python: How Python workers run, or `nil` to refuse running Python services.
    ///   - create: Whether initialization creates the store when `root` has none.
    ///   - recover: Whether initialization recovers from a writer that crashed mid-write.
    ///   - fsync: Whether writes are fsync'd, so a finished write survives a power loss or kernel
    ///     crash. With `false`, writes are still atomic and survive a killed process (the kernel
    ///     keeps them), and cost a fraction: for scratch stores, test fixtures and bulk imports.
    public init(
        root: String, handlers: HandlerRegistry = .shared, python: PythonRuntime.Configuration? = PythonRuntime.Configuration(),
        create: Bool = true, recover: Bool = true, fsync: Bool = true
    ) {
        self.createsMissingStore = create
        self.recoversOnOpen = recover
        let logger = Logger(label: "mldeploy.backend.filesystem")
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = (absolute as NSString).standardizingPath
        self.layout = StoreLayout(root: self.root)
        self.files = DurableFiles(temporaryDirectory: self.layout.tmp, synchronous: fsync)
        self.index = StoreIndex(layout: self.layout, logger: logger)
        self.logger = logger
        self.handlers = handlers
        self.runtime = LocalRuntime(handlers: handlers, python: python.map { PythonRuntime(configuration: $0, logger: logger) }, logger: logger)
    }

    /// Creates a store from a target: `file:PATH` (or `file:///PATH`), or the `path` option; the
    /// `python.*` options configure the Python runtime; `create`, `recover` and `fsync` (`true`, the
    /// default, or `false`) are the parameters of ``init(root:handlers:python:create:recover:fsync:)``.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` when no path is given;
    ///   ``MLDeploy/MLDeployError/Code/invalidArgument`` for a malformed option.
    public convenience init(configuration: BackendConfiguration) throws {
        var path = configuration.options["path"]
        if let uri = configuration.uri {
            path = uri.path.hasPrefix("//") ? String(uri.path.dropFirst(2).drop { $0 != "/" }) : uri.path
        }
        guard let path, !path.isEmpty else {
            throw MLDeployError(code: .invalidTarget, message: "The filesystem backend needs a root directory: write file:./services, or pass the 'path' option.")
        }
        func flag(_ key: String) throws -> Bool {
            guard let text = configuration.options[key] else { return true }
            guard let value = Bool(text) else {
                throw MLDeployError.invalidArgument("Option \(key) of the filesystem backend must be true or false, not '\(text)'.")
            }
            return value
        }
        self.init(
            root: path, python: try PythonRuntime.Configuration(options: configuration.options),
            create: try flag("create"), recover: try flag("recover"), fsync: try flag("fsync")
        )
        self.runtime.realtime.configureBatching(try RealtimeBatching.rules(options: configuration.options))
    }

    // MARK: Lifecycle

    /// Opens the store: creates the root and its layout if needed, checks the format of an existing
    /// one, and recovers from a writer that crashed mid-write.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/incompatibleStore`` for a directory that is not an
    ///   MLDeploy store or has a newer format; ``MLDeploy/MLDeployError/Code/storageFailure``.
    public func initialize(context: BackendContext) async throws {
        let layout = self.layout
        let (create, files) = (self.createsMissingStore, self.files)
        let readOnly = try await StoreIO.run { try Self.openLayout(layout, files: files, create: create) }
        self.readOnly.withLock { $0 = readOnly }
        guard self.recoversOnOpen else { return }
        let interrupted = try await StoreIO.run { try DurableFiles.exists(layout.intent) || !DurableFiles.list(layout.tmp).isEmpty }
        if !readOnly, interrupted {
            let lock = try await StoreLock(path: layout.lock, mode: .exclusive)
            try await StoreIO.run { try self.recover() }
            withExtendedLifetime(lock) {}
        }
    }

    /// Creates or checks the layout; returns whether the store is read-only for this process.
    private static func openLayout(_ layout: StoreLayout, files: DurableFiles, create: Bool) throws -> Bool {
        if let bytes = try DurableFiles.read(layout.marker) {
            let marker = try? JSONValue(parsing: bytes)
            guard marker?["format"]?.stringValue == StoreLayout.formatName, let version = marker?["version"]?.intValue else {
                throw MLDeployError(code: .incompatibleStore, message: "\(layout.marker) is not an MLDeploy store marker; choose another root.")
            }
            guard version <= StoreLayout.formatVersion else {
                throw MLDeployError(
                    code: .incompatibleStore,
                    message: "The store at \(layout.root) has format \(version); this MLDeploy understands up to \(StoreLayout.formatVersion). Upgrade MLDeploy to use it."
                )
            }
            return access(layout.root, W_OK) != 0 || !Self.isWritable(layout.tmp)
        }
        guard create else {
            throw MLDeployError(code: .notFound, message: "There is no MLDeploy store at \(layout.root) (no mldeploy-store.json).")
        }
        let existing = try DurableFiles.list(layout.root)
        guard existing.isEmpty else {
            throw MLDeployError(
                code: .incompatibleStore,
                message: "\(layout.root) is not empty and is not an MLDeploy store (no mldeploy-store.json); choose an empty or new directory."
            )
        }
        if !DurableFiles.exists(layout.root) {
            try FileManager.default.createDirectory(atPath: layout.root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for directory in [layout.services, layout.blobs, layout.refs, layout.tmp] {
            try DurableFiles.makeDirectory(directory)
        }
        if !DurableFiles.exists(layout.lock) {
            let descriptor = Glibc.open(layout.lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw DurableFiles.error("create", layout.lock) }
            close(descriptor)
        }
        let marker: JSONValue = [
            "format": .string(StoreLayout.formatName), "version": .integer(StoreLayout.formatVersion),
            "created": .double(Date().timeIntervalSince1970),
        ]
        try files.write(try marker.serializedBytes(), to: layout.marker)
        try files.sync(directory: layout.root)
        return false
    }

    /// Whether a file can be created in `directory` (catches read-only mounts, where `access` lies to root).
    private static func isWritable(_ directory: String) -> Bool {
        let probe = directory + "/.probe-" + UUID().uuidString
        let descriptor = Glibc.open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        close(descriptor)
        unlink(probe)
        return true
    }

    /// Records who authenticated, as `publishedBy`. Any credentials are accepted.
    public func authenticate(_ credentials: AuthContext) async throws {
        self.principal.withLock { $0 = credentials.passwordCredentials?.username ?? credentials.aadOptions?.username }
    }

    /// Cancels batch executions and stops the Python workers. The store itself needs no closing.
    public func shutdown() async throws {
        await self.batches.cancelAll()
        await self.runtime.shutdown()
    }

    // MARK: Reading

    /// Runs `body` under the shared lock, after catching up with other writers, off the cooperative pool.
    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let lock = try await StoreLock(path: self.layout.lock, mode: .shared)
        defer { withExtendedLifetime(lock) {} }
        return try await StoreIO.run {
            try self.index.catchUp()
            return try body()
        }
    }

    private func manifest(_ name: String, _ version: String?) async throws -> Manifest {
        try await self.read {
            guard let entry = try self.index.name(name) else { throw MLDeployError.serviceNotFound(name: name, version: version) }
            guard let manifest = version.map({ entry.version($0) }) ?? entry.latest else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            return manifest
        }
    }

    /// The version, or the most recently deployed one; `notFound` if absent.
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try NameRules.checkServiceName(name)
        if let version { try NameRules.checkVersion(version) }
        return try await self.manifest(name, version).info
    }

    /// Services sorted by name, each name's versions oldest first. Unreadable manifests are skipped.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        switch query {
        case .all:
            return try await self.read { try self.index.allNames().flatMap { $0.versions.map(\.manifest.info) } }
        case .named(let name):
            try NameRules.checkServiceName(name)
            return try await self.read { try self.index.name(name)?.versions.map(\.manifest.info) ?? [] }
        case .version(let name, let version):
            try NameRules.checkServiceName(name)
            try NameRules.checkVersion(version)
            return try await self.read { try self.index.name(name)?.version(version).map { [$0.info] } ?? [] }
        }
    }

    // MARK: Running

    /// A realtime version's parsed model (``ServiceRuntime/LocalRuntimeHosting``).
    public func realtimeModel(_ service: ServiceReference) async throws -> ONNXModel {
        let (_, implementation, _) = try await self.executable(service.name, service.version)
        return try self.parsedRealtimeModel(service, implementation)
    }

    /// Loads what runs a version: the implementation and its objects and models (blobs are mapped,
    /// not copied, so large models cost nothing until a worker loads them).
    package func executable(_ name: String, _ version: String) async throws -> (ServiceInfo, ServiceImplementation, [String: ServiceObject]) {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        let layout = self.layout
        return try await self.read {
            guard let manifest = try self.index.name(name)?.version(version) else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            let (implementation, namespace) = try manifest.executable(
                blob: { hash in try Self.mapBlob(layout.blob(hash)) }, model: { hash in try self.mappedModel(hash) }
            )
            return (manifest.info, implementation, namespace)
        }
    }

    /// The realtime model blob `hash`, mapped once and then shared.
    private func mappedModel(_ hash: String) throws -> Data {
        if let mapped = self.mappedModels.withLock({ $0[hash] }) { return mapped }
        let mapped = try Self.mapBlob(self.layout.blob(hash))
        self.mappedModels.withLock { models in
            if models.count >= Self.mappedModelLimit { models.removeAll() }
            models[hash] = mapped
        }
        return mapped
    }

    static func mapBlob(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Blob \(path) is missing or unreadable; run verify on the store. (\(error))")
        }
    }

    /// Runs one call through the local runtime.
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        try await self.consumeStored(request)
    }

    /// Starts running the records in the background and returns the execution id.
    public func startBatch(_ request: BatchRequest) async throws -> String {
        try await self.startStoredBatch(request)
    }

    /// The execution's state and, if asked, its finished records' responses.
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        try await self.batches.status(batch, includeResults: includeResults)
    }

    /// The version's execution ids, oldest first.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        try NameRules.checkServiceName(service.name)
        try NameRules.checkVersion(service.version)
        _ = try await self.manifest(service.name, service.version)
        return await self.batches.executionIDs(for: service)
    }

    /// Cancels and deletes an execution.
    public func cancelBatch(_ batch: BatchReference) async throws {
        try await self.batches.cancel(batch)
    }

    /// The artifact names of one finished record.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        try await self.batches.artifactNames(batch, index: index)
    }

    /// The bytes of one artifact of one finished record.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        try await self.batches.artifact(batch, index: index, fileName: fileName)
    }

    // MARK: Writing

    /// Stores a new version (a UUID version when none is given); `conflict` if it exists. The version
    /// is durable when this returns.
    public func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.deployStored(definition)
    }

    /// Changes the fields the definition sets, atomically; `notFound` if the version is absent.
    public func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.redeployStored(definition)
    }

    /// Stores a realtime version with the fixed `inputData`/`outputData` schema.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.deployStoredRealtime(definition)
    }

    /// Changes a realtime version's description, alias or model.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.redeployStoredRealtime(definition)
    }

    /// Removes one version, collects blobs nothing references any more, and cancels its batches.
    public func deleteService(_ name: String, version: String) async throws {
        try await self.deleteStored(name, version: version)
    }

    /// One write of one version under the exclusive lock (``ServiceRuntime/ManifestStore``).
    package func writeVersion(
        name: String, version: String, _ decide: @escaping @Sendable (_ latestSequence: Int, _ current: Manifest?) throws -> ManifestChange
    ) async throws -> Manifest {
        try await self.write(name: name) { current in try decide(current?.latest?.sequence ?? 0, current?.version(version)) }
    }
}
