import Foundation
import Hummingbird
import MLDeploy
import ServiceRuntime

/// The authoring sessions and snapshots the Python SDK's publish flow uses: a session collects
/// workspace objects (pickled bytes, by name); a snapshot freezes a session's workspace;
/// publishing copies a snapshot's objects into the service, so deleting the snapshot afterwards —
/// which the SDK always does — loses nothing.
///
/// Sessions and snapshots live in the server's ``ServerStateStore``: memory on a single node, the
/// database when several nodes share one — a session's whole state is its workspace, history and
/// console output, so any node can run its next execution. Each is owned by the user who made it;
/// only its owner (or an Owner) can use it. Because they hold space, each user has a quota: a
/// number of sessions and snapshots, and a number of bytes across all of them; a change that would
/// go past it is refused whole (413 or 429 `quota-exceeded`) and nothing of it is kept.
final class SessionStore: Sendable {
    struct Session: Sendable {
        let id: String
        let owner: String
        let name: String?
        let runtimeType: String
        /// The code of each execution, oldest first.
        var history: [String] = []
        /// The console output of the last execution.
        var consoleOutput = ""
        /// The node running an execution in it now, and until when that claim holds (a session
        /// runs one execution at a time, as ML Server's do; a claim of a node that died expires).
        var running: (node: String, until: Date)?

        var json: JSONValue {
            var object: JSONObject = [
                "id": .string(self.id), "owner": .string(self.owner), "name": self.name.map(JSONValue.string) ?? .null,
                "runtimeType": .string(self.runtimeType), "history": .array(self.history.map(JSONValue.string)), "consoleOutput": .string(self.consoleOutput),
            ]
            if let running = self.running {
                object["running"] = ["node": .string(running.node), "until": .double(running.until.timeIntervalSince1970)]
            }
            return .object(object)
        }

        init(id: String, owner: String, name: String?, runtimeType: String) {
            (self.id, self.owner, self.name, self.runtimeType) = (id, owner, name, runtimeType)
        }

        init?(_ json: JSONValue) {
            guard let id = json["id"]?.stringValue, let owner = json["owner"]?.stringValue else { return nil }
            self.init(id: id, owner: owner, name: json["name"]?.stringValue, runtimeType: json["runtimeType"]?.stringValue ?? "Python")
            self.history = json["history"]?.arrayValue?.compactMap(\.stringValue) ?? []
            self.consoleOutput = json["consoleOutput"]?.stringValue ?? ""
            if let node = json["running"]?["node"]?.stringValue, let until = json["running"]?["until"]?.doubleValue {
                self.running = (node, Date(timeIntervalSince1970: until))
            }
        }
    }

    struct Snapshot: Sendable {
        let id: String
        let owner: String
        let name: String?
        let creationTime: Date
        /// The bytes its objects hold.
        let contentSize: Int

        var json: JSONValue {
            [
                "id": .string(self.id), "owner": .string(self.owner), "name": self.name.map(JSONValue.string) ?? .null,
                "creationTime": .double(self.creationTime.timeIntervalSince1970), "contentSize": .integer(self.contentSize),
            ]
        }

        init(id: String, owner: String, name: String?, creationTime: Date, contentSize: Int) {
            (self.id, self.owner, self.name, self.creationTime, self.contentSize) = (id, owner, name, creationTime, contentSize)
        }

        init?(_ json: JSONValue) {
            guard let id = json["id"]?.stringValue, let owner = json["owner"]?.stringValue else { return nil }
            self.init(
                id: id, owner: owner, name: json["name"]?.stringValue, creationTime: Date(timeIntervalSince1970: json["creationTime"]?.doubleValue ?? 0),
                contentSize: json["contentSize"]?.intValue ?? 0
            )
        }
    }

    private let store: any ServerStateStore
    /// This node's id, recorded on a session while it runs an execution here.
    let node: String
    /// The most sessions one user may have (snapshots: four times as many).
    let maximumSessions: Int
    /// The bytes one user's workspaces and snapshots may hold together.
    let storageQuota: Int
    /// How long a node's claim on a running session holds before another node may take the session
    /// (longer than any execution may take; a claim is released when its execution ends).
    let executionClaim: Duration

    /// A store with per-user limits.
    init(store: any ServerStateStore, node: String, maximumSessions: Int, storageQuota: Int, executionClaim: Duration = .seconds(3600)) {
        self.store = store
        self.node = node
        self.maximumSessions = maximumSessions
        self.storageQuota = storageQuota
        self.executionClaim = executionClaim
    }

    // MARK: Quotas

    /// The bytes `owner`'s sessions and snapshots hold.
    private static func usage(of owner: String, in transaction: any ServerStateTransaction) async throws -> Int {
        var used = 0
        for (id, json) in try await transaction.jsonEntries(in: .sessions) where json["owner"]?.stringValue == owner {
            used += try await transaction.sizes(in: .sessionObjects, prefix: id + "/").values.reduce(0, +)
        }
        for (_, json) in try await transaction.jsonEntries(in: .snapshots) where json["owner"]?.stringValue == owner {
            used += json["contentSize"]?.intValue ?? 0
        }
        return used
    }

    /// Refuses (413 `quota-exceeded`) a change that adds `added` bytes to `owner`'s holdings when
    /// that would pass the quota.
    private func checkQuota(adding added: Int, for owner: String, in transaction: any ServerStateTransaction, what: String) async throws {
        guard added > 0 else { return }
        let used = try await Self.usage(of: owner, in: transaction)
        guard used + added <= self.storageQuota else {
            throw ServerError(
                .contentTooLarge,
                "\(what) would add \(added) bytes to the \(used) that \(owner)'s sessions and snapshots hold, past the quota of \(self.storageQuota) bytes; nothing was kept. Delete workspace objects, sessions or snapshots first.",
                exceptionType: MLDeployError.Code.quotaExceeded.rawValue
            )
        }
    }

    /// Refuses (429 `quota-exceeded`) a new session or snapshot past the per-user count.
    private static func checkCount(_ count: Int, limit: Int, of what: String, owner: String) throws {
        guard count < limit else {
            throw ServerError(
                .tooManyRequests, "\(owner) has \(count) \(what), the most one user may have; close or delete one first.",
                exceptionType: MLDeployError.Code.quotaExceeded.rawValue
            )
        }
    }

    private static func noSession(_ id: String) -> MLDeployError { MLDeployError(code: .notFound, message: "There is no session '\(id)'.") }

    // MARK: Sessions

    /// Opens a session (with a copy of `snapshot`'s objects); returns its id.
    ///
    /// - Throws: 429 `quota-exceeded` when `owner` has the most sessions they may; 413 when the
    ///   snapshot's objects do not fit their quota.
    func createSession(owner: String, name: String?, runtimeType: String, from snapshot: Snapshot? = nil) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let session = Session(id: id, owner: owner, name: name, runtimeType: runtimeType)
        let limit = self.maximumSessions
        try await self.store.transaction { transaction in
            let count = try await transaction.jsonEntries(in: .sessions).count { $0.value["owner"]?.stringValue == owner }
            try Self.checkCount(count, limit: limit, of: "sessions", owner: owner)
            if let snapshot {
                try await self.checkQuota(adding: snapshot.contentSize, for: owner, in: transaction, what: "A session from snapshot '\(snapshot.id)'")
                for (key, bytes) in try await transaction.entries(in: .snapshotObjects, prefix: snapshot.id + "/") {
                    try await transaction.set(id + key.dropFirst(snapshot.id.count), bytes, in: .sessionObjects)
                }
            }
            try await transaction.set(id, json: session.json, in: .sessions)
        }
        return id
    }

    /// The sessions `user` may see (an Owner sees all).
    func sessions(visibleTo user: String, isOwner: Bool) async throws -> [Session] {
        try await self.store.jsonEntries(in: .sessions).compactMap { Session($0.value) }.filter { isOwner || $0.owner == user }
    }

    /// The session, if `user` may use it.
    func session(_ id: String, user: String, isOwner: Bool) async throws -> Session {
        guard let session = try await self.store.json(id, in: .sessions).flatMap(Session.init), isOwner || session.owner == user else {
            throw Self.noSession(id)
        }
        return session
    }

    /// The names of a session's workspace objects, sorted.
    func objectNames(session id: String, user: String, isOwner: Bool) async throws -> [String] {
        _ = try await self.session(id, user: user, isOwner: isOwner)
        return try await self.store.sizes(in: .sessionObjects, prefix: id + "/").keys.map { String($0.dropFirst(id.count + 1)) }.sorted()
    }

    /// One workspace object's bytes.
    func object(_ name: String, session id: String, user: String, isOwner: Bool) async throws -> Data {
        _ = try await self.session(id, user: user, isOwner: isOwner)
        guard let bytes = try await self.store.value(id + "/" + name, in: .sessionObjects) else {
            throw MLDeployError(code: .notFound, message: "Session '\(id)' has no workspace object '\(name)'.")
        }
        return bytes
    }

    /// Checks, before an upload's body is read, that `name` is valid, that `user` may use the
    /// session, and — when the request declares its length — that `declaredSize` bytes fit its
    /// owner's quota: a refused upload is never written anywhere.
    func checkUpload(_ name: String, declaredSize: Int?, session id: String, user: String, isOwner: Bool) async throws {
        try NameRules.checkIdentifier(name, role: "workspace object")
        let session = try await self.session(id, user: user, isOwner: isOwner)
        guard let declaredSize else { return }
        let held = try await self.store.sizes(in: .sessionObjects, prefix: id + "/" + name)[id + "/" + name] ?? 0
        try await self.store.transaction { transaction in
            try await self.checkQuota(adding: declaredSize - held, for: session.owner, in: transaction, what: "Workspace object '\(name)'")
        }
    }

    /// Stores a workspace object in a session, within its owner's quota.
    func putObject(_ name: String, _ bytes: Data, session id: String, user: String, isOwner: Bool) async throws {
        try NameRules.checkIdentifier(name, role: "workspace object")
        let session = try await self.session(id, user: user, isOwner: isOwner)
        let key = id + "/" + name
        try await self.store.transaction { transaction in
            guard try await transaction.value(id, in: .sessions) != nil else { throw Self.noSession(id) }
            let held = try await transaction.sizes(in: .sessionObjects, prefix: key)[key] ?? 0
            try await self.checkQuota(adding: bytes.count - held, for: session.owner, in: transaction, what: "Workspace object '\(name)'")
            try await transaction.set(key, bytes, in: .sessionObjects)
        }
    }

    /// Removes a workspace object.
    func removeObject(_ name: String, session id: String, user: String, isOwner: Bool) async throws {
        _ = try await self.session(id, user: user, isOwner: isOwner)
        let key = id + "/" + name
        try await self.store.transaction { transaction in
            guard try await transaction.sizes(in: .sessionObjects, prefix: key)[key] != nil else {
                throw MLDeployError(code: .notFound, message: "Session '\(id)' has no workspace object '\(name)'.")
            }
            try await transaction.remove(key, in: .sessionObjects)
        }
    }

    /// Marks a session as executing on this node and returns its workspace, or fails with a
    /// conflict while another execution runs in it (on any node).
    func beginExecution(session id: String, user: String, isOwner: Bool) async throws -> [String: Data] {
        _ = try await self.session(id, user: user, isOwner: isOwner)
        let (node, claim) = (self.node, self.executionClaim)
        return try await self.store.transaction { transaction in
            guard var session = try await transaction.json(id, in: .sessions).flatMap(Session.init) else { throw Self.noSession(id) }
            if let running = session.running, running.until > Date() {
                throw MLDeployError(code: .conflict, message: "Session '\(id)' is running code; wait for it to finish (or cancel it).")
            }
            session.running = (node, Date().addingTimeInterval(Double(claim.components.seconds)))
            try await transaction.set(id, json: session.json, in: .sessions)
            var workspace: [String: Data] = [:]
            for (key, bytes) in try await transaction.entries(in: .sessionObjects, prefix: id + "/") {
                workspace[String(key.dropFirst(id.count + 1))] = bytes
            }
            return workspace
        }
    }

    /// Ends an execution: applies its workspace changes (unless it failed outright) and records it.
    /// A session closed meanwhile stays closed.
    ///
    /// - Throws: 413 `quota-exceeded` when the objects the run made would pass its owner's quota:
    ///   then none of its changes are kept (the session is as before the run).
    func endExecution(session id: String, code: String, outcome: PythonExecution?) async throws {
        // The claim is released even when the changes are refused.
        let release = { @Sendable (transaction: any ServerStateTransaction) async throws -> Session? in
            guard var session = try await transaction.json(id, in: .sessions).flatMap(Session.init) else { return nil }
            session.running = nil
            return session
        }
        do {
            try await self.store.transaction { transaction in
                guard var session = try await release(transaction) else { return }
                if let outcome {
                    let sizes = try await transaction.sizes(in: .sessionObjects, prefix: id + "/")
                    let held = { (name: String) in sizes[id + "/" + name] ?? 0 }
                    let added = outcome.changedObjects.reduce(0) { $0 + $1.value.count - held($1.key) }
                        - outcome.removedObjects.reduce(0) { $0 + (outcome.changedObjects[$1] == nil ? held($1) : 0) }
                    try await self.checkQuota(adding: added, for: session.owner, in: transaction, what: "The run's workspace objects")
                    for (name, bytes) in outcome.changedObjects { try await transaction.set(id + "/" + name, bytes, in: .sessionObjects) }
                    for name in outcome.removedObjects where outcome.changedObjects[name] == nil {
                        try await transaction.remove(id + "/" + name, in: .sessionObjects)
                    }
                    session.consoleOutput = outcome.consoleOutput
                    session.history.append(code)
                }
                try await transaction.set(id, json: session.json, in: .sessions)
            }
        } catch {
            try? await self.store.transaction { transaction in
                if let session = try await release(transaction) { try await transaction.set(id, json: session.json, in: .sessions) }
            }
            throw error
        }
    }

    /// Closes a session.
    func deleteSession(_ id: String, user: String, isOwner: Bool) async throws {
        _ = try await self.session(id, user: user, isOwner: isOwner)
        try await self.store.transaction { transaction in
            try await transaction.remove(id, in: .sessions)
            try await transaction.removeAll(in: .sessionObjects, prefix: id + "/")
        }
    }

    // MARK: Snapshots

    /// Freezes a session's workspace; returns the snapshot's id. A snapshot counts against its
    /// owner's quota as the bytes it holds (the same bytes a publish copies into the service).
    func snapshot(session id: String, name: String?, user: String, isOwner: Bool) async throws -> String {
        let session = try await self.session(id, user: user, isOwner: isOwner)
        let snapshotID = UUID().uuidString.lowercased()
        let limit = 4 * self.maximumSessions
        try await self.store.transaction { transaction in
            let objects = try await transaction.entries(in: .sessionObjects, prefix: id + "/")
            let size = objects.reduce(0) { $0 + $1.value.count }
            let count = try await transaction.jsonEntries(in: .snapshots).count { $0.value["owner"]?.stringValue == session.owner }
            try Self.checkCount(count, limit: limit, of: "snapshots", owner: session.owner)
            try await self.checkQuota(adding: size, for: session.owner, in: transaction, what: "A snapshot of session '\(id)'")
            for (key, bytes) in objects { try await transaction.set(snapshotID + key.dropFirst(id.count), bytes, in: .snapshotObjects) }
            let snapshot = Snapshot(id: snapshotID, owner: session.owner, name: name, creationTime: Date(), contentSize: size)
            try await transaction.set(snapshotID, json: snapshot.json, in: .snapshots)
        }
        return snapshotID
    }

    /// The snapshots `user` may see, oldest first.
    func snapshots(visibleTo user: String, isOwner: Bool) async throws -> [Snapshot] {
        try await self.store.jsonEntries(in: .snapshots).compactMap { Snapshot($0.value) }.filter { isOwner || $0.owner == user }
            .sorted { $0.creationTime < $1.creationTime }
    }

    /// The snapshot, if `user` may use it.
    func snapshot(_ id: String, user: String, isOwner: Bool) async throws -> Snapshot {
        guard let snapshot = try await self.store.json(id, in: .snapshots).flatMap(Snapshot.init), isOwner || snapshot.owner == user else {
            throw MLDeployError(code: .notFound, message: "There is no snapshot '\(id)'.")
        }
        return snapshot
    }

    /// A snapshot's objects by name.
    func objects(ofSnapshot id: String, user: String, isOwner: Bool) async throws -> [String: Data] {
        _ = try await self.snapshot(id, user: user, isOwner: isOwner)
        var objects: [String: Data] = [:]
        for (key, bytes) in try await self.store.entries(in: .snapshotObjects, prefix: id + "/") { objects[String(key.dropFirst(id.count + 1))] = bytes }
        return objects
    }

    /// Replaces a session's workspace with a snapshot's objects.
    func load(snapshot snapshotID: String, into sessionID: String, user: String, isOwner: Bool) async throws {
        let snapshot = try await self.snapshot(snapshotID, user: user, isOwner: isOwner)
        let session = try await self.session(sessionID, user: user, isOwner: isOwner)
        try await self.store.transaction { transaction in
            let held = try await transaction.sizes(in: .sessionObjects, prefix: sessionID + "/").values.reduce(0, +)
            try await self.checkQuota(adding: snapshot.contentSize - held, for: session.owner, in: transaction, what: "Loading snapshot '\(snapshotID)'")
            try await transaction.removeAll(in: .sessionObjects, prefix: sessionID + "/")
            for (key, bytes) in try await transaction.entries(in: .snapshotObjects, prefix: snapshotID + "/") {
                try await transaction.set(sessionID + key.dropFirst(snapshotID.count), bytes, in: .sessionObjects)
            }
        }
    }

    /// Deletes a snapshot.
    func deleteSnapshot(_ id: String, user: String, isOwner: Bool) async throws {
        _ = try await self.snapshot(id, user: user, isOwner: isOwner)
        try await self.store.transaction { transaction in
            try await transaction.remove(id, in: .snapshots)
            try await transaction.removeAll(in: .snapshotObjects, prefix: id + "/")
        }
    }
}
