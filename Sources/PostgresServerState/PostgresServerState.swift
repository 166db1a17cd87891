import Foundation
import Logging
import MLDeploy
import MLDeployServer
import NIOCore
import PostgresBackend
import PostgresNIO
import Synchronization

/// The server's state in a PostgreSQL database, shared by every `mldeploy serve` node that opens
/// it: users, refresh and revoked tokens, the signing key, sessions with their workspaces and
/// history, snapshots, batch owners, pool settings and the node registry — one row per entry of
/// `mldeploy_state` (collection, key, bytes), created by the same migrations as the PostgreSQL
/// backend's tables.
///
/// Transactions take a cluster-wide advisory lock, so a read-check-write (a quota, a session's
/// execution flag, the first admin) is atomic across nodes. What every request reads — users,
/// revoked tokens, the signing key — is kept in memory and dropped the moment any node changes it
/// (`NOTIFY mldeploy_state, 'COLLECTION'` in the writing transaction), so authenticating a request
/// costs no database round trip.
public final class PostgresServerState: ServerStateStore {
    /// The collections read on every request, kept in memory.
    static let cached: Set<ServerStateCollection> = [.users, .revokedTokens, .secrets]
    /// The channel state writes notify.
    static let channel = "mldeploy_state"

    private let db: PostgresPool
    private let logger: Logger
    private let cache = CollectionCache()
    private let listening = Mutex<Task<Void, Never>?>(nil)

    /// The database `settings` names (nothing connects before first use).
    public init(settings: PostgresSettings, logger: Logger = Logger(label: "mldeploy.server.state")) {
        self.db = PostgresPool(settings: settings, logger: logger)
        self.logger = logger
    }

    /// The database a `postgresql://…` or `postgres://…` URI names, with the password options
    /// the PostgreSQL backend takes (`password`, `password_file`, `MLDEPLOY_DATABASE_PASSWORD_FILE`…).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` for a malformed URI.
    public convenience init(uri: String, options: [String: String] = [:]) throws {
        var remainder = uri
        for scheme in ["postgresql:", "postgres:"] where remainder.hasPrefix(scheme) { remainder = String(remainder.dropFirst(scheme.count)) }
        self.init(settings: try PostgresSettings(uri: remainder, options: options))
    }

    /// The database, without its password.
    public var location: String { "\(self.db.settings)" }
    /// Any number of nodes share it.
    public var isShared: Bool { true }

    /// Connects, migrates and starts following changes, once.
    private func ready() async throws {
        try await self.db.open()
        let (client, cache, logger) = (self.db.client, self.cache, self.logger)
        self.listening.withLock { task in
            if task == nil { task = Task { await CollectionCache.listen(client, channel: Self.channel, cache: cache, logger: logger) } }
        }
    }

    // MARK: Reading

    /// The value at `key`.
    public func value(_ key: String, in collection: ServerStateCollection) async throws -> Data? {
        if Self.cached.contains(collection) { return try await self.cachedCollection(collection)[key] }
        try await self.ready()
        return try await self.db.run("reading \(collection)") {
            try await Self.value(key, in: collection, on: self.db.client, logger: self.logger)
        }
    }

    /// The entries under `prefix`, sorted by key.
    public func entries(in collection: ServerStateCollection, prefix: String) async throws -> [(key: String, value: Data)] {
        if Self.cached.contains(collection) {
            return try await self.cachedCollection(collection).filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        try await self.ready()
        return try await self.db.run("reading \(collection)") {
            try await Self.entries(in: collection, prefix: prefix, on: self.db.client, logger: self.logger)
        }
    }

    /// The sizes of the entries under `prefix`.
    public func sizes(in collection: ServerStateCollection, prefix: String) async throws -> [String: Int] {
        try await self.ready()
        return try await self.db.run("reading \(collection)") {
            try await Self.sizes(in: collection, prefix: prefix, on: self.db.client, logger: self.logger)
        }
    }

    /// A cached collection: from memory while the change feed is subscribed, else the database.
    private func cachedCollection(_ collection: ServerStateCollection) async throws -> [String: Data] {
        let (cached, generation) = self.cache.lookup(collection)
        if let cached { return cached }
        try await self.ready()
        let loaded = try await self.db.run("reading \(collection)") {
            Dictionary(try await Self.entries(in: collection, prefix: "", on: self.db.client, logger: self.logger).map { ($0.key, $0.value) }) { first, _ in first }
        }
        self.cache.store(loaded, for: collection, generation: generation)
        return loaded
    }

    // MARK: Queries (on the pool or a transaction's connection)

    static func value(_ key: String, in collection: ServerStateCollection, on connection: some PostgresQueryRunner, logger: Logger) async throws -> Data? {
        var found: Data?
        for try await bytes in try await connection.run(
            "SELECT value FROM mldeploy_state WHERE collection = \(collection.rawValue) AND key = \(key)", logger: logger
        ).decode(ByteBuffer.self) {
            found = Data(bytes.readableBytesView)
        }
        return found
    }

    static func entries(in collection: ServerStateCollection, prefix: String, on connection: some PostgresQueryRunner, logger: Logger) async throws -> [(key: String, value: Data)] {
        var entries: [(key: String, value: Data)] = []
        for try await (key, bytes) in try await connection.run(
            "SELECT key, value FROM mldeploy_state WHERE collection = \(collection.rawValue) AND starts_with(key, \(prefix)) ORDER BY key", logger: logger
        ).decode((String, ByteBuffer).self) {
            entries.append((key, Data(bytes.readableBytesView)))
        }
        return entries
    }

    static func sizes(in collection: ServerStateCollection, prefix: String, on connection: some PostgresQueryRunner, logger: Logger) async throws -> [String: Int] {
        var sizes: [String: Int] = [:]
        for try await (key, size) in try await connection.run(
            "SELECT key, octet_length(value) FROM mldeploy_state WHERE collection = \(collection.rawValue) AND starts_with(key, \(prefix))", logger: logger
        ).decode((String, Int).self) {
            sizes[key] = size
        }
        return sizes
    }

    // MARK: Writing

    /// Runs `body` in one database transaction under the cluster-wide state lock; the collections
    /// it changed are announced to every node at commit.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any ServerStateTransaction) async throws -> T) async throws -> T {
        try await self.ready()
        let touched = Mutex<Set<ServerStateCollection>>([])
        defer {
            // This process sees its own writes at once, not when the notification comes back.
            for collection in touched.withLock({ $0 }) { self.cache.changed(collection.rawValue) }
        }
        return try await self.db.run("changing the server state", timeout: self.db.writeTimeout) {
            try await self.db.client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.stateLock))", logger: self.logger)
                let transaction = Transaction(connection: connection, logger: self.logger)
                let result = try await body(transaction)
                let changed = transaction.touched
                for collection in changed where Self.cached.contains(collection) {
                    try await connection.query("SELECT pg_notify(\(Self.channel), \(collection.rawValue))", logger: self.logger)
                }
                touched.withLock { $0 = changed }
                return result
            }
        }
    }

    private final class Transaction: ServerStateTransaction {
        let connection: PostgresConnection
        let logger: Logger
        private let changed = Mutex<Set<ServerStateCollection>>([])

        init(connection: PostgresConnection, logger: Logger) {
            self.connection = connection
            self.logger = logger
        }

        var touched: Set<ServerStateCollection> { self.changed.withLock { $0 } }

        func value(_ key: String, in collection: ServerStateCollection) async throws -> Data? {
            try await PostgresServerState.value(key, in: collection, on: self.connection, logger: self.logger)
        }

        func entries(in collection: ServerStateCollection, prefix: String) async throws -> [(key: String, value: Data)] {
            try await PostgresServerState.entries(in: collection, prefix: prefix, on: self.connection, logger: self.logger)
        }

        func sizes(in collection: ServerStateCollection, prefix: String) async throws -> [String: Int] {
            try await PostgresServerState.sizes(in: collection, prefix: prefix, on: self.connection, logger: self.logger)
        }

        func set(_ key: String, _ value: Data, in collection: ServerStateCollection) async throws {
            self.changed.withLock { _ = $0.insert(collection) }
            let bytes = ByteBuffer(bytes: value)
            try await self.connection.query(
                """
                INSERT INTO mldeploy_state (collection, key, value) VALUES (\(collection.rawValue), \(key), \(bytes))
                ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, updated_at = now()
                """,
                logger: self.logger
            )
        }

        func remove(_ key: String, in collection: ServerStateCollection) async throws {
            self.changed.withLock { _ = $0.insert(collection) }
            try await self.connection.query("DELETE FROM mldeploy_state WHERE collection = \(collection.rawValue) AND key = \(key)", logger: self.logger)
        }

        func removeAll(in collection: ServerStateCollection, prefix: String) async throws {
            self.changed.withLock { _ = $0.insert(collection) }
            try await self.connection.query(
                "DELETE FROM mldeploy_state WHERE collection = \(collection.rawValue) AND starts_with(key, \(prefix))", logger: self.logger
            )
        }
    }

    // MARK: Health and lifecycle

    /// Whether the database answers, how quickly, and its schema version.
    public func health() async -> ServerStateHealth {
        let start = ContinuousClock.now
        do {
            try await self.ready()
            let version = try await self.db.run("checking health") {
                var version = 0
                for try await found in try await self.db.client.query("SELECT coalesce(max(version), 0) FROM mldeploy_schema", logger: self.logger).decode(Int.self) {
                    version = found
                }
                return version
            }
            return ServerStateHealth(
                healthy: true, kind: "postgresql", latency: ContinuousClock.now - start,
                details: ["name": self.db.settings.database, "schemaVersion": "\(version)", "following": "\(self.cache.isListening)"]
            )
        } catch {
            return ServerStateHealth(healthy: false, kind: "postgresql", latency: ContinuousClock.now - start, details: ["name": self.db.settings.database, "error": "\(error)"])
        }
    }

    /// Stops following changes and closes the connections.
    public func close() async {
        self.listening.withLock { task in
            task?.cancel()
            task = nil
        }
        await self.db.close()
    }
}

/// What runs a query: the pool or one connection of a transaction.
protocol PostgresQueryRunner: Sendable {
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence
}

extension PostgresClient: PostgresQueryRunner {
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence { try await self.query(query, logger: logger) }
}

extension PostgresConnection: PostgresQueryRunner {
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence { try await self.query(query, logger: logger) }
}
