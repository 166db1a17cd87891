import Foundation
import MLDeploy
import Synchronization

/// The server's state on one node: users, refresh tokens, revoked tokens and the signing key in
/// owner-only files of the data directory (`users.json`, `refresh-tokens.json`,
/// `revoked-tokens.json`, `signing.key`), everything else — sessions, snapshots, batch owners,
/// pool settings — in memory, gone with the process (as a single ML Server web node keeps them).
///
/// The files are replaced atomically and reread when another process (`mldeploy users`) changes
/// them. Transactions are serialized within the process.
public final class LocalServerState: ServerStateStore {
    /// The data directory.
    public let directory: String
    /// `files in DIRECTORY`.
    public var location: String { "files in \(self.directory)" }
    /// One process only.
    public var isShared: Bool { false }

    private struct Loaded {
        var collections: [ServerStateCollection: [String: Data]] = [:]
        var stamps: [String: FileStamp?] = [:]
    }

    private let loaded = Mutex(Loaded())
    private let lock = AsyncLock()

    /// State under `directory` (created owner-only if missing).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` when the directory cannot be made.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        self.directory = directory
    }

    // MARK: Files

    /// The file a collection is kept in, with the member holding its entries; `nil` for memory.
    private static func file(of collection: ServerStateCollection) -> (name: String, member: String)? {
        switch collection {
        case .users: ("users.json", "users")
        case .refreshTokens: ("refresh-tokens.json", "tokens")
        case .revokedTokens: ("revoked-tokens.json", "tokens")
        default: nil
        }
    }

    private func path(_ name: String) -> String { self.directory + "/" + name }

    /// The collection as it is now, rereading its file when another process replaced it.
    private func current(_ collection: ServerStateCollection) throws -> [String: Data] {
        if collection == .secrets { return try self.secrets() }
        guard let (name, member) = Self.file(of: collection) else {
            return self.loaded.withLock { $0.collections[collection] ?? [:] }
        }
        let path = self.path(name)
        let stamp = FileStamp(path)
        if let known = self.loaded.withLock({ $0.stamps[path] }), known == stamp {
            return self.loaded.withLock { $0.collections[collection] ?? [:] }
        }
        let entries = try SecretFile.read(path).map { try Self.decode(Data($0), member: member, path: path) } ?? [:]
        self.loaded.withLock { state in
            state.collections[collection] = entries
            state.stamps[path] = .some(stamp)
        }
        return entries
    }

    /// Secrets are one file each, named by their key.
    private func secrets() throws -> [String: Data] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? []
        var secrets: [String: Data] = [:]
        for name in names where name.hasSuffix(".key") {
            if let bytes = try SecretFile.read(self.path(name)) { secrets[name] = Data(bytes) }
        }
        return secrets
    }

    private static func decode(_ bytes: Data, member: String, path: String) throws -> [String: Data] {
        guard let json = try? JSONValue(parsing: Array(bytes)), json["format"]?.intValue == 1 else {
            throw MLDeployError(code: .storageFailure, message: "\(path) is malformed (not a format-1 file); fix it or remove it to start over.")
        }
        var entries: [String: Data] = [:]
        switch json[member] {
        case .array(let items)?:
            for item in items {
                guard let name = item["name"]?.stringValue else {
                    throw MLDeployError(code: .storageFailure, message: "\(path) is malformed (an entry has no name); fix it or remove it to start over.")
                }
                entries[name] = Data(try item.serializedBytes())
            }
        case .object(let members)?:
            for member in members { entries[member.key] = Data(try member.value.serializedBytes()) }
        default:
            throw MLDeployError(code: .storageFailure, message: "\(path) is malformed (no \"\(member)\"); fix it or remove it to start over.")
        }
        return entries
    }

    private func write(_ entries: [String: Data], of collection: ServerStateCollection) throws {
        if collection == .secrets {
            for (name, bytes) in entries where name.hasSuffix(".key") && !name.contains("/") {
                try SecretFile.write(Array(bytes), to: self.path(name))
            }
            return
        }
        guard let (name, member) = Self.file(of: collection) else { return }
        let values = try entries.keys.sorted().map { key in (key, try JSONValue(parsing: Array(entries[key]!))) }
        let body: JSONValue
        if member == "users" {
            body = .array(values.map(\.1))
        } else {
            var object = JSONObject()
            for (key, value) in values { object.append(key, value) }
            body = .object(object)
        }
        let path = self.path(name)
        try SecretFile.write(try JSONValue.object(["format": 1, member: body]).serializedBytes(), to: path)
        self.loaded.withLock { $0.stamps[path] = .some(FileStamp(path)) }
    }

    // MARK: ServerStateStore

    /// The value at `key`.
    public func value(_ key: String, in collection: ServerStateCollection) async throws -> Data? {
        try self.current(collection)[key]
    }

    /// The entries under `prefix`, sorted by key.
    public func entries(in collection: ServerStateCollection, prefix: String) async throws -> [(key: String, value: Data)] {
        try self.current(collection).filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The sizes of the entries under `prefix`.
    public func sizes(in collection: ServerStateCollection, prefix: String) async throws -> [String: Int] {
        try self.current(collection).filter { $0.key.hasPrefix(prefix) }.mapValues(\.count)
    }

    /// Runs `body` alone in this process; its writes reach the files and memory when it returns.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any ServerStateTransaction) async throws -> T) async throws -> T {
        try await self.lock.withLock {
            let transaction = Transaction(store: self)
            let result = try await body(transaction)
            for (collection, changes) in transaction.changes {
                var entries = try self.current(collection)
                for (key, value) in changes { entries[key] = value }
                try self.write(collection == .secrets ? entries.filter { changes[$0.key] != nil } : entries, of: collection)
                self.loaded.withLock { $0.collections[collection] = entries }
            }
            return result
        }
    }

    /// Always healthy: files and memory.
    public func health() async -> ServerStateHealth {
        ServerStateHealth(healthy: true, kind: "files", latency: .zero, details: ["directory": self.directory])
    }

    /// Nothing to release.
    public func close() async {}

    /// A transaction's writes, applied over the store's entries when it ends.
    private final class Transaction: ServerStateTransaction {
        let store: LocalServerState
        private let pending = Mutex<[ServerStateCollection: [String: Data?]]>([:])

        init(store: LocalServerState) { self.store = store }

        var changes: [ServerStateCollection: [String: Data?]] { self.pending.withLock { $0 } }

        private func view(_ collection: ServerStateCollection) throws -> [String: Data] {
            var entries = try self.store.current(collection)
            for (key, value) in self.pending.withLock({ $0[collection] ?? [:] }) { entries[key] = value }
            return entries
        }

        func value(_ key: String, in collection: ServerStateCollection) async throws -> Data? { try self.view(collection)[key] }

        func entries(in collection: ServerStateCollection, prefix: String) async throws -> [(key: String, value: Data)] {
            try self.view(collection).filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        func sizes(in collection: ServerStateCollection, prefix: String) async throws -> [String: Int] {
            try self.view(collection).filter { $0.key.hasPrefix(prefix) }.mapValues(\.count)
        }

        func set(_ key: String, _ value: Data, in collection: ServerStateCollection) async throws {
            self.pending.withLock { $0[collection, default: [:]][key] = .some(value) }
        }

        func remove(_ key: String, in collection: ServerStateCollection) async throws {
            self.pending.withLock { $0[collection, default: [:]][key] = .some(nil) }
        }

        func removeAll(in collection: ServerStateCollection, prefix: String) async throws {
            let keys = try self.view(collection).keys.filter { $0.hasPrefix(prefix) }
            self.pending.withLock { pending in
                for key in keys { pending[collection, default: [:]][key] = .some(nil) }
            }
        }
    }
}

/// Mutual exclusion for async work: waiters resume one at a time, in arrival order.
final class AsyncLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
        defer {
            let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiters.isEmpty {
                    state.locked = false
                    return nil
                }
                return state.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
