import Foundation
import Logging
import MLDeploy
import MLDeployCrypto
import MLDeployONNX
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceRuntime
import Synchronization

/// A deployment target in a PostgreSQL database: service versions, their code, schemas, objects,
/// models and realtime models are rows, shared by every process that opens the same database, and
/// services run locally (as with the filesystem store).
///
/// Each version is one row holding its manifest (the filesystem store's JSON format); objects and
/// models are blobs stored once per content (SHA-256), in parts of ``partSize`` bytes, so no value
/// is one giant column. A deploy, redeploy or delete is one transaction — blobs, then the row that
/// makes the version visible — so a killed process leaves nothing partial, and writes are
/// serialized across all processes by an advisory lock (two publishers of one name and version:
/// exactly one wins, the other gets `conflict`). The schema is created and migrated by the backend
/// (``PostgresSchema``), safely when several processes start at once.
///
/// ```swift
/// try BackendRegistry.shared.register(.postgres)
/// let client = try await DeployClient(target: "postgresql://mldeploy@db.example.com/mldeploy")
/// ```
public final class PostgresBackend: ConfigurableBackend, LocalRuntimeHosting, ManifestStore {
    /// Everything the filesystem store does.
    public let capabilities: BackendCapabilities = [.pythonServices, .swiftHandlers, .realtime, .batch, .batchArtifacts]
    /// The size of one stored part of a blob (1 MiB).
    public static let partSize = 1 << 20

    /// Where the backend connects.
    public let settings: PostgresSettings
    /// The connections.
    package let db: PostgresPool
    private var client: PostgresClient { self.db.client }
    /// The change feed's task (``ManifestCache``).
    private let listening = Mutex<Task<Void, Never>?>(nil)
    /// Manifests of versions called here, dropped when any process changes them.
    private let manifestCache = ManifestCache()
    /// Whether the change feed is subscribed, so called versions' manifests are kept in memory.
    package var followsChanges: Bool { self.manifestCache.isListening }
    private let runtime: LocalRuntime
    /// The runtime this backend runs services with (``ServiceRuntime/LocalRuntimeHosting``).
    public var localRuntime: LocalRuntime { self.runtime }
    private let handlers: HandlerRegistry
    /// Unused by this backend (batches are rows: ``PostgresBatchQueue``); ``ServiceRuntime/ManifestStore`` asks for one.
    private let batches = BatchCoordinator()
    /// The batch executions' workers in this process (`nil` after ``shutdown()``, which breaks the
    /// queue's reference back to the backend).
    var batchQueue: PostgresBatchQueue? { self.queue.withLock { $0 } }
    private let queue = Mutex<PostgresBatchQueue?>(nil)
    /// Where stored handler names are resolved (``ServiceRuntime/ManifestStore``).
    package var handlerRegistry: HandlerRegistry { self.handlers }
    /// The backend's batch executions (``ServiceRuntime/ManifestStore``).
    package var batchCoordinator: BatchCoordinator { self.batches }
    /// Who authenticated (``ServiceRuntime/ManifestStore``).
    package var principalName: String? { self.principal.withLock { $0 } }
    let logger: Logger
    private let principal = Mutex<String?>(nil)
    /// Blobs read for running versions, by hash: content-addressed, so never stale.
    private let blobCache = Mutex<(blobs: [String: Data], bytes: Int)>(([:], 0))
    /// How many bytes of blobs are kept in ``blobCache``; beyond it the cache starts over.
    private static let blobCacheLimit = 256 << 20

    /// A backend for the database `settings` name.
    ///
    /// - Parameters:
    ///   - settings: Where to connect.
    ///   - handlers: Where stored Swift handler names are resolved.
    ///   - python: How Python workers run, or `nil` to refuse running Python services.
    ///   - batchWorkers: How many batch records this process runs at once (of any batch; each
    ///     batch's `parallelCount` bounds its own records across all processes).
    public init(
        settings: PostgresSettings, handlers: HandlerRegistry = .shared, python: PythonRuntime.Configuration? = PythonRuntime.Configuration(), batchWorkers: Int = 4
    ) {
        let logger = Logger(label: "mldeploy.backend.postgres")
        self.settings = settings
        self.logger = logger
        self.handlers = handlers
        self.runtime = LocalRuntime(handlers: handlers, python: python.map { PythonRuntime(configuration: $0, logger: logger) }, logger: logger)
        let workers = batchWorkers
        self.db = PostgresPool(settings: settings, logger: logger)
        self.queue.withLock { $0 = PostgresBatchQueue(backend: self, workers: workers, logger: logger) }
    }

    /// A backend from a target: `postgresql://…` or `postgres://…` (see ``PostgresSettings``); the
    /// `python.*` options configure the Python runtime.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` for a malformed URI or no database.
    public convenience init(configuration: BackendConfiguration) throws {
        guard let uri = configuration.uri else {
            throw MLDeployError(code: .invalidTarget, message: "The PostgreSQL backend needs a URI: postgresql://USER@HOST:PORT/DATABASE.")
        }
        self.init(
            settings: try PostgresSettings(uri: uri.remainder, options: configuration.options),
            python: try PythonRuntime.Configuration(options: configuration.options)
        )
        self.runtime.realtime.configureBatching(try RealtimeBatching.rules(options: configuration.options))
    }

    // MARK: Lifecycle

    /// Connects and brings the schema up to date.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unreachable`` when the database cannot be reached or
    ///   refuses the credentials; ``MLDeploy/MLDeployError/Code/incompatibleStore`` for a newer schema.
    public func initialize(context: BackendContext) async throws {
        try await self.db.open()
        let client = self.client
        let (cache, logger, queue) = (self.manifestCache, self.logger, self.batchQueue)
        self.listening.withLock { task in
            if task == nil { task = Task { await ManifestCache.listen(client, cache: cache, logger: logger, wake: { queue?.wake() }) } }
        }
        queue?.start()
    }

    /// Records who authenticated, as `publishedBy`. Any credentials are accepted (the database's
    /// own user and password are the backend's, from its URI).
    public func authenticate(_ credentials: AuthContext) async throws {
        self.principal.withLock { $0 = credentials.passwordCredentials?.username ?? credentials.aadOptions?.username }
    }

    /// Cancels batch executions, stops the Python workers and closes the connections.
    public func shutdown() async throws {
        let queue = self.queue.withLock { queue in
            defer { queue = nil }
            return queue
        }
        await queue?.stop()
        await self.batches.cancelAll()
        await self.runtime.shutdown()
        let feed = self.listening.withLock { task in
            defer { task = nil }
            return task
        }
        // The feed ends when its connection goes with the pool; it is not awaited (a lease it may
        // be waiting for ends with the pool too).
        feed?.cancel()
        await self.db.close()
    }

    /// How long a write may take.
    private var writeTimeout: Duration { self.db.writeTimeout }

    private func database<T: Sendable>(_ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await self.db.run(what, timeout: timeout, body)
    }

    // MARK: Reading

    private func manifests(_ query: PostgresQuery, what: String) async throws -> [Manifest] {
        let texts = try await self.database(what) {
            var texts: [String] = []
            for try await text in try await self.client.query(query, logger: self.logger).decode(String.self) { texts.append(text) }
            return texts
        }
        // A listing of more than a few versions is parsed on every core, in order.
        let logger = self.logger
        let parse = { @Sendable (slice: ArraySlice<String>) -> [Manifest] in
            slice.compactMap { text in
                do {
                    return try Manifest(bytes: Array(text.utf8))
                } catch {
                    logger.warning("skipping an unreadable manifest", metadata: ["error": "\(error)"])
                    return nil
                }
            }
        }
        let chunks = texts.count < 64 ? 1 : ProcessInfo.processInfo.activeProcessorCount
        guard chunks > 1 else { return parse(texts[...]) }
        let size = (texts.count + chunks - 1) / chunks
        return await withTaskGroup(of: (Int, [Manifest]).self) { group in
            for chunk in 0..<chunks {
                let slice = texts[min(texts.count, chunk * size)..<min(texts.count, (chunk + 1) * size)]
                group.addTask { (chunk, parse(slice)) }
            }
            var parts = [[Manifest]](repeating: [], count: chunks)
            for await (chunk, manifests) in group { parts[chunk] = manifests }
            return parts.flatMap { $0 }
        }
    }

    private func manifest(_ name: String, _ version: String?) async throws -> Manifest {
        let query: PostgresQuery =
            version.map { "SELECT manifest FROM mldeploy_versions WHERE name = \(name) AND version = \($0)" }
            ?? "SELECT manifest FROM mldeploy_versions WHERE name = \(name) ORDER BY sequence DESC LIMIT 1"
        guard let manifest = try await self.manifests(query, what: "reading \(name)").first else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        return manifest
    }

    /// The version, or the most recently deployed one; `notFound` if absent.
    /// A named version comes from the manifest cache when it is there (a server looks a version up
    /// on every call); the latest one is read from the database.
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try NameRules.checkServiceName(name)
        guard let version else { return try await self.manifest(name, nil).info }
        try NameRules.checkVersion(version)
        return try await self.cachedManifest(name, version).info
    }

    /// The version's manifest, from the cache or the database (then kept, unless a change
    /// notification arrived meanwhile).
    private func cachedManifest(_ name: String, _ version: String) async throws -> Manifest {
        let (cached, generation) = self.manifestCache.lookup(name, version)
        if let cached { return cached }
        let manifest = try await self.manifest(name, version)
        self.manifestCache.store(manifest, generation: generation)
        return manifest
    }

    /// Services sorted by name, each name's versions oldest first.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        switch query {
        case .all:
            // Kept until any process changes any version (the change feed says so).
            let (cached, generation) = self.manifestCache.listing()
            if let cached { return cached.map(\.info) }
            let manifests = try await self.manifests("SELECT manifest FROM mldeploy_versions ORDER BY name, sequence", what: "listing")
            self.manifestCache.storeListing(manifests, generation: generation)
            return manifests.map(\.info)
        case .named(let name):
            try NameRules.checkServiceName(name)
            return try await self.manifests("SELECT manifest FROM mldeploy_versions WHERE name = \(name) ORDER BY sequence", what: "listing \(name)").map(\.info)
        case .version(let name, let version):
            try NameRules.checkServiceName(name)
            try NameRules.checkVersion(version)
            return try await self.manifests(
                "SELECT manifest FROM mldeploy_versions WHERE name = \(name) AND version = \(version)", what: "listing \(name)/\(version)"
            ).map(\.info)
        }
    }

    // MARK: Running

    /// A blob's bytes, from the cache or its parts in the database.
    private func blob(_ hash: String) async throws -> Data {
        if let cached = self.blobCache.withLock({ $0.blobs[hash] }) { return cached }
        let (bytes, parts) = try await self.database("reading blob \(hash.prefix(12))") {
            var bytes = Data()
            var parts = 0
            for try await part in try await self.client.query(
                "SELECT bytes FROM mldeploy_blob_parts WHERE hash = \(hash) ORDER BY part", logger: self.logger
            ).decode(ByteBuffer.self) {
                bytes.append(contentsOf: part.readableBytesView)
                parts += 1
            }
            return (bytes, parts)
        }
        guard parts > 0 || bytes.isEmpty, SHA256.hex(Array(bytes)) == hash else {
            throw MLDeployError(code: .storageFailure, message: "Blob \(hash) is missing or damaged in the database.")
        }
        self.blobCache.withLock { cache in
            if cache.bytes + bytes.count > Self.blobCacheLimit { cache = ([:], 0) }
            cache.blobs[hash] = bytes
            cache.bytes += bytes.count
        }
        return bytes
    }

    /// A realtime version's parsed model (``ServiceRuntime/LocalRuntimeHosting``).
    public func realtimeModel(_ service: ServiceReference) async throws -> ONNXModel {
        let (_, implementation, _) = try await self.executable(service.name, service.version)
        return try self.parsedRealtimeModel(service, implementation)
    }

    /// What runs a version: its implementation and namespace, blobs read from the database.
    package func executable(_ name: String, _ version: String) async throws -> (ServiceInfo, ServiceImplementation, [String: ServiceObject]) {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        let manifest = try await self.cachedManifest(name, version)
        var blobs: [String: Data] = [:]
        for hash in manifest.blobHashes { blobs[hash] = try await self.blob(hash) }
        let loaded = blobs
        func lookup(_ hash: String) throws -> Data {
            guard let bytes = loaded[hash] else { throw MLDeployError(code: .storageFailure, message: "Blob \(hash) was not loaded.") }
            return bytes
        }
        let (implementation, namespace) = try manifest.executable(blob: lookup, model: lookup)
        return (manifest.info, implementation, namespace)
    }

    /// Runs one call through the local runtime.
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        try await self.consumeStored(request)
    }

    // MARK: Writing

    /// Runs one write in one transaction, under the cluster-wide write lock: reads the name's latest
    /// sequence and the version's manifest, lets `decide` choose the change, then writes new blobs,
    /// the version row and its blob references — or deletes the row and collects blobs nothing
    /// references any more.
    package func writeVersion(
        name: String, version: String, _ decide: @escaping @Sendable (_ latestSequence: Int, _ current: Manifest?) throws -> ManifestChange
    ) async throws -> Manifest {
        // This process sees its own write at once, not when its notification comes back.
        defer { self.manifestCache.changed(ManifestCache.key(name, version)) }
        return try await self.writeRows(name: name, version: version, decide)
    }

    private func writeRows(
        name: String, version: String, _ decide: @escaping @Sendable (_ latestSequence: Int, _ current: Manifest?) throws -> ManifestChange
    ) async throws -> Manifest {
        try await self.database("writing \(name)/\(version)", timeout: self.writeTimeout) {
            try await self.client.withTransaction(logger: self.logger) { connection in
                let logger = self.logger
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.writeLock))", logger: logger)
                var latest = 0
                for try await sequence in try await connection.query(
                    "SELECT coalesce(max(sequence), 0) FROM mldeploy_versions WHERE name = \(name)", logger: logger
                ).decode(Int.self) {
                    latest = sequence
                }
                var current: Manifest?
                for try await text in try await connection.query(
                    "SELECT manifest FROM mldeploy_versions WHERE name = \(name) AND version = \(version)", logger: logger
                ).decode(String.self) {
                    current = try Manifest(bytes: Array(text.utf8))
                }
                // Delivered at commit: every process drops its cached manifest of this version.
                try await connection.query("SELECT pg_notify(\(ManifestCache.channel), \(ManifestCache.key(name, version)))", logger: logger)
                switch try decide(latest, current) {
                case .put(let manifest, let blobs):
                    for (hash, bytes) in blobs {
                        try await Self.storeBlob(hash: hash, bytes: bytes, on: connection, logger: logger)
                    }
                    let text = String(decoding: try manifest.json().serializedBytes(), as: UTF8.self)
                    let (sequence, revision) = (manifest.sequence, manifest.revision)
                    if current == nil {
                        try await connection.query(
                            "INSERT INTO mldeploy_versions (name, version, sequence, revision, manifest) VALUES (\(name), \(version), \(sequence), \(revision), \(text))",
                            logger: logger
                        )
                    } else {
                        try await connection.query(
                            "UPDATE mldeploy_versions SET revision = \(revision), manifest = \(text) WHERE name = \(name) AND version = \(version)", logger: logger
                        )
                        try await connection.query("DELETE FROM mldeploy_blob_refs WHERE name = \(name) AND version = \(version)", logger: logger)
                    }
                    for hash in manifest.blobHashes {
                        try await connection.query(
                            "INSERT INTO mldeploy_blob_refs (name, version, hash) VALUES (\(name), \(version), \(hash)) ON CONFLICT DO NOTHING", logger: logger
                        )
                    }
                    if let previous = current { try await Self.collect(Array(previous.blobHashes), on: connection, logger: logger) }
                    return manifest
                case .delete(let manifest):
                    try await connection.query("DELETE FROM mldeploy_versions WHERE name = \(name) AND version = \(version)", logger: logger)
                    try await Self.collect(Array(manifest.blobHashes), on: connection, logger: logger)
                    return manifest
                }
            }
        }
    }

    /// Stores a blob in parts unless it is there already.
    private static func storeBlob(hash: String, bytes: [UInt8], on connection: PostgresConnection, logger: Logger) async throws {
        let parts = max(1, (bytes.count + Self.partSize - 1) / Self.partSize)
        var inserted = false
        for try await _ in try await connection.query(
            "INSERT INTO mldeploy_blobs (hash, size, parts) VALUES (\(hash), \(bytes.count), \(parts)) ON CONFLICT DO NOTHING RETURNING hash", logger: logger
        ).decode(String.self) {
            inserted = true
        }
        guard inserted else { return }
        for part in 0..<parts {
            let start = part * Self.partSize
            let slice = ByteBuffer(bytes: bytes[start..<min(bytes.count, start + Self.partSize)])
            try await connection.query("INSERT INTO mldeploy_blob_parts (hash, part, bytes) VALUES (\(hash), \(part), \(slice))", logger: logger)
        }
    }

    /// Deletes the blobs among `hashes` that no version references any more.
    private static func collect(_ hashes: [String], on connection: PostgresConnection, logger: Logger) async throws {
        guard !hashes.isEmpty else { return }
        try await connection.query(
            "DELETE FROM mldeploy_blobs b WHERE b.hash = ANY(\(hashes)) AND NOT EXISTS (SELECT 1 FROM mldeploy_blob_refs r WHERE r.hash = b.hash)", logger: logger
        )
    }

    /// Stores a new version (a UUID version when none is given); `conflict` if it exists.
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
        try await self.cancelBatches(of: ServiceReference(name: name, version: version))
    }
}
