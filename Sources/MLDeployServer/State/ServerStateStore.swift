import Foundation
import MLDeploy

/// A named part of the server's state: users, tokens, sessions, snapshots, batch owners, pool
/// settings, nodes. Each is a map from a string key to bytes (most values are small JSON objects;
/// workspace and snapshot objects are pickled bytes).
public struct ServerStateCollection: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The collection's stored name.
    public let rawValue: String
    /// A collection named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Users by name: role, account id, password hash.
    public static let users = ServerStateCollection(rawValue: "users")
    /// Refresh tokens by their SHA-256: user, account, expiry.
    public static let refreshTokens = ServerStateCollection(rawValue: "refresh-tokens")
    /// Revoked access tokens by token id: when each would have expired.
    public static let revokedTokens = ServerStateCollection(rawValue: "revoked-tokens")
    /// Secrets by name (`signing.key`).
    public static let secrets = ServerStateCollection(rawValue: "secrets")
    /// Sessions by id: owner, name, history, console output, whether one runs.
    public static let sessions = ServerStateCollection(rawValue: "sessions")
    /// Workspace objects by `SESSION/NAME`.
    public static let sessionObjects = ServerStateCollection(rawValue: "session-objects")
    /// Snapshots by id: owner, name, creation time.
    public static let snapshots = ServerStateCollection(rawValue: "snapshots")
    /// Snapshot objects by `SNAPSHOT/NAME`.
    public static let snapshotObjects = ServerStateCollection(rawValue: "snapshot-objects")
    /// Who started each batch execution, by execution id.
    public static let batchOwners = ServerStateCollection(rawValue: "batch-owners")
    /// Service pool sizes set through `/services/{name}/{version}/pool`, by `NAME/VERSION`.
    public static let poolSettings = ServerStateCollection(rawValue: "pool-settings")
    /// The server nodes sharing this state, by node id, with their last heartbeat.
    public static let nodes = ServerStateCollection(rawValue: "nodes")

    /// The name.
    public var description: String { self.rawValue }
}

/// The reads a ``ServerStateStore`` and one of its transactions both offer (a transaction's reads see
/// its own writes).
public protocol ServerStateReading: Sendable {
    /// The value at `key`, or `nil`.
    func value(_ key: String, in collection: ServerStateCollection) async throws -> Data?
    /// The entries whose keys start with `prefix`, sorted by key.
    func entries(in collection: ServerStateCollection, prefix: String) async throws -> [(key: String, value: Data)]
    /// The byte sizes of the entries whose keys start with `prefix`, by key (values are not read).
    func sizes(in collection: ServerStateCollection, prefix: String) async throws -> [String: Int]
}

/// Where a server keeps what must outlive a request: the state every node behind a load balancer
/// must share (users, tokens, the signing key, sessions and their workspaces, snapshots, who owns
/// which batch, pool settings, the node registry).
///
/// Two implementations: ``LocalServerState`` (files in the data directory for users and tokens,
/// memory for the rest: one node) and the PostgreSQL one (`PostgresServerState`: all of it in the
/// database, for any number of nodes). Reads see every committed write of every node; a
/// ``transaction(_:)`` is serialized with every other one across all nodes sharing the store, so
/// read-check-write sequences (a quota, an execution flag, a user added once) are safe.
public protocol ServerStateStore: ServerStateReading {
    /// Where the state is, for logs and `/status` (no secrets).
    var location: String { get }
    /// Whether several server processes can share this store (the PostgreSQL one).
    var isShared: Bool { get }

    /// Runs `body` with exclusive access to the whole state; its writes are applied together when
    /// it returns, and none of them when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any ServerStateTransaction) async throws -> T) async throws -> T
    /// Whether the store answers now, and how quickly: `/status` reports it.
    func health() async -> ServerStateHealth
    /// Releases connections.
    func close() async
}

/// The reads and writes of one ``ServerStateStore/transaction(_:)``; reads see the transaction's
/// own writes.
public protocol ServerStateTransaction: ServerStateReading {
    /// Sets `key` to `value`.
    func set(_ key: String, _ value: Data, in collection: ServerStateCollection) async throws
    /// Removes `key` (nothing if absent).
    func remove(_ key: String, in collection: ServerStateCollection) async throws
    /// Removes every entry whose key starts with `prefix`.
    func removeAll(in collection: ServerStateCollection, prefix: String) async throws
}

/// What `/status` says about the state store (`components.database` when it is a database).
public struct ServerStateHealth: Sendable {
    /// Whether it answered.
    public var healthy: Bool
    /// What kind of store (`files`, `postgresql`).
    public var kind: String
    /// How long the check took.
    public var latency: Duration
    /// Facts about the store (`schemaVersion`, `error`), as strings.
    public var details: [String: String]

    /// A health report.
    public init(healthy: Bool, kind: String, latency: Duration, details: [String: String] = [:]) {
        self.healthy = healthy
        self.kind = kind
        self.latency = latency
        self.details = details
    }
}

extension ServerStateReading {
    /// The value at `key` parsed as JSON, or `nil` (also for bytes that are not JSON).
    func json(_ key: String, in collection: ServerStateCollection) async throws -> JSONValue? {
        try await self.value(key, in: collection).flatMap { try? JSONValue(parsing: Array($0)) }
    }

    /// Every entry parsed as JSON (entries that are not JSON are skipped).
    func jsonEntries(in collection: ServerStateCollection, prefix: String = "") async throws -> [(key: String, value: JSONValue)] {
        try await self.entries(in: collection, prefix: prefix).compactMap { entry in (try? JSONValue(parsing: Array(entry.value))).map { (entry.key, $0) } }
    }
}

extension ServerStateTransaction {
    /// Sets `key` to `value` serialized as JSON.
    func set(_ key: String, json value: JSONValue, in collection: ServerStateCollection) async throws {
        try await self.set(key, Data(try value.serializedBytes()), in: collection)
    }
}
