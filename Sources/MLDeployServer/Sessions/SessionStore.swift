import Foundation
import Hummingbird
import MLDeploy
import ServiceRuntime
import Synchronization

/// The authoring sessions and snapshots the Python SDK's publish flow uses: a
/// session collects workspace objects (pickled bytes, by name); a snapshot freezes a session's
/// workspace; publishing copies a snapshot's objects into the service, so deleting the snapshot
/// afterwards — which the SDK always does — loses nothing.
///
/// Sessions and snapshots live in the server's memory, owned by the user who made them; only their
/// owner (or an Owner) can use them. They are scratch space: a restart forgets them, as a published
/// service never depends on them. Because they hold memory, each user has a quota: a number of
/// sessions and snapshots, and a number of bytes across all of them; a change that would go past
/// it is refused whole (413 or 429 `quota-exceeded`) and nothing of it is kept.
final class SessionStore: Sendable {
    struct Session: Sendable {
        let id: String
        let owner: String
        let name: String?
        let runtimeType: String
        var workspace: [String: Data] = [:]
        /// The code of each execution, oldest first.
        var history: [String] = []
        /// The console output of the last execution.
        var consoleOutput = ""
        /// Whether an execution runs now (a session runs one at a time, as ML Server's do).
        var executing = false
    }

    struct Snapshot: Sendable {
        let id: String
        let owner: String
        let name: String?
        let creationTime: Date
        let objects: [String: Data]

        var contentSize: Int { self.objects.values.reduce(0) { $0 + $1.count } }
    }

    private typealias State = (sessions: [String: Session], snapshots: [String: Snapshot])
    private let state = Mutex<State>(([:], [:]))
    /// The most sessions one user may have (snapshots: four times as many).
    let maximumSessions: Int
    /// The bytes one user's workspaces and snapshots may hold together.
    let storageQuota: Int

    /// A store with per-user limits.
    init(maximumSessions: Int, storageQuota: Int) {
        self.maximumSessions = maximumSessions
        self.storageQuota = storageQuota
    }

    /// The bytes `owner`'s sessions and snapshots hold.
    private static func usage(of owner: String, in state: State) -> Int {
        state.sessions.values.reduce(0) { $0 + ($1.owner == owner ? $1.workspace.values.reduce(0) { $0 + $1.count } : 0) }
            + state.snapshots.values.reduce(0) { $0 + ($1.owner == owner ? $1.contentSize : 0) }
    }

    /// Refuses (413 `quota-exceeded`) a change that adds `added` bytes to `owner`'s holdings when
    /// that would pass the quota.
    private func checkQuota(adding added: Int, for owner: String, in state: State, what: String) throws {
        let used = Self.usage(of: owner, in: state)
        guard added <= 0 || used + added <= self.storageQuota else {
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

    /// Opens a session (with a copy of `snapshot`'s objects); returns its id.
    ///
    /// - Throws: 429 `quota-exceeded` when `owner` has the most sessions they may; 413 when the
    ///   snapshot's objects do not fit their quota.
    func createSession(owner: String, name: String?, runtimeType: String, from snapshot: Snapshot? = nil) throws -> String {
        let id = UUID().uuidString.lowercased()
        try self.state.withLock { state in
            try Self.checkCount(state.sessions.values.count { $0.owner == owner }, limit: self.maximumSessions, of: "sessions", owner: owner)
            try self.checkQuota(adding: snapshot?.contentSize ?? 0, for: owner, in: state, what: "A session from snapshot '\(snapshot?.id ?? "")'")
            state.sessions[id] = Session(id: id, owner: owner, name: name, runtimeType: runtimeType, workspace: snapshot?.objects ?? [:])
        }
        return id
    }

    /// The sessions `user` may see (an Owner sees all).
    func sessions(visibleTo user: String, isOwner: Bool) -> [Session] {
        self.state.withLock { state in state.sessions.values.filter { isOwner || $0.owner == user } }.sorted { $0.id < $1.id }
    }

    /// The session, if `user` may use it.
    func session(_ id: String, user: String, isOwner: Bool) throws -> Session {
        guard let session = self.state.withLock({ $0.sessions[id] }), isOwner || session.owner == user else {
            throw MLDeployError(code: .notFound, message: "There is no session '\(id)'.")
        }
        return session
    }

    /// Checks, before an upload's body is read, that `name` is valid, that `user` may use the
    /// session, and — when the request declares its length — that `declaredSize` bytes fit its
    /// owner's quota: a refused upload is never written anywhere.
    func checkUpload(_ name: String, declaredSize: Int?, session id: String, user: String, isOwner: Bool) throws {
        try NameRules.checkIdentifier(name, role: "workspace object")
        let session = try self.session(id, user: user, isOwner: isOwner)
        guard let declaredSize else { return }
        try self.state.withLock { state in
            try self.checkQuota(adding: declaredSize - (session.workspace[name]?.count ?? 0), for: session.owner, in: state, what: "Workspace object '\(name)'")
        }
    }

    /// Stores a workspace object in a session, within its owner's quota.
    func putObject(_ name: String, _ bytes: Data, session id: String, user: String, isOwner: Bool) throws {
        try NameRules.checkIdentifier(name, role: "workspace object")
        let session = try self.session(id, user: user, isOwner: isOwner)
        try self.state.withLock { state in
            guard let current = state.sessions[id] else { throw MLDeployError(code: .notFound, message: "There is no session '\(id)'.") }
            try self.checkQuota(adding: bytes.count - (current.workspace[name]?.count ?? 0), for: session.owner, in: state, what: "Workspace object '\(name)'")
            state.sessions[id]?.workspace[name] = bytes
        }
    }

    /// Removes a workspace object.
    func removeObject(_ name: String, session id: String, user: String, isOwner: Bool) throws {
        let session = try self.session(id, user: user, isOwner: isOwner)
        guard session.workspace[name] != nil else {
            throw MLDeployError(code: .notFound, message: "Session '\(id)' has no workspace object '\(name)'.")
        }
        self.state.withLock { $0.sessions[id]?.workspace[name] = nil }
    }

    /// Marks a session as executing and returns its workspace, or fails with a conflict while
    /// another execution runs in it.
    func beginExecution(session id: String, user: String, isOwner: Bool) throws -> [String: Data] {
        _ = try self.session(id, user: user, isOwner: isOwner)
        return try self.state.withLock { state in
            guard let session = state.sessions[id] else { throw MLDeployError(code: .notFound, message: "There is no session '\(id)'.") }
            guard !session.executing else {
                throw MLDeployError(code: .conflict, message: "Session '\(id)' is running code; wait for it to finish (or cancel it).")
            }
            state.sessions[id]?.executing = true
            return session.workspace
        }
    }

    /// Ends an execution: applies its workspace changes (unless it failed outright) and records it.
    /// A session closed meanwhile stays closed.
    ///
    /// - Throws: 413 `quota-exceeded` when the objects the run made would pass its owner's quota:
    ///   then none of its changes are kept (the session is as before the run).
    func endExecution(session id: String, code: String, outcome: PythonExecution?) throws {
        try self.state.withLock { state in
            guard var session = state.sessions[id] else { return }
            session.executing = false
            state.sessions[id] = session
            guard let outcome else { return }
            let added = outcome.changedObjects.reduce(0) { $0 + $1.value.count - (session.workspace[$1.key]?.count ?? 0) }
                - outcome.removedObjects.reduce(0) { $0 + (outcome.changedObjects[$1] == nil ? session.workspace[$1]?.count ?? 0 : 0) }
            try self.checkQuota(adding: added, for: session.owner, in: state, what: "The run's workspace objects")
            for (name, bytes) in outcome.changedObjects { session.workspace[name] = bytes }
            for name in outcome.removedObjects { session.workspace[name] = nil }
            session.consoleOutput = outcome.consoleOutput
            session.history.append(code)
            state.sessions[id] = session
        }
    }

    /// Closes a session.
    func deleteSession(_ id: String, user: String, isOwner: Bool) throws {
        _ = try self.session(id, user: user, isOwner: isOwner)
        self.state.withLock { $0.sessions[id] = nil }
    }

    /// Freezes a session's workspace; returns the snapshot's id. A snapshot counts against its
    /// owner's quota as the bytes it holds (the same bytes a publish copies into the service).
    func snapshot(session id: String, name: String?, user: String, isOwner: Bool) throws -> String {
        let session = try self.session(id, user: user, isOwner: isOwner)
        let snapshotID = UUID().uuidString.lowercased()
        try self.state.withLock { state in
            let workspace = state.sessions[id]?.workspace ?? session.workspace
            try Self.checkCount(state.snapshots.values.count { $0.owner == session.owner }, limit: 4 * self.maximumSessions, of: "snapshots", owner: session.owner)
            try self.checkQuota(adding: workspace.values.reduce(0) { $0 + $1.count }, for: session.owner, in: state, what: "A snapshot of session '\(id)'")
            state.snapshots[snapshotID] = Snapshot(id: snapshotID, owner: session.owner, name: name, creationTime: Date(), objects: workspace)
        }
        return snapshotID
    }

    /// The snapshots `user` may see.
    func snapshots(visibleTo user: String, isOwner: Bool) -> [Snapshot] {
        self.state.withLock { state in state.snapshots.values.filter { isOwner || $0.owner == user } }.sorted { $0.creationTime < $1.creationTime }
    }

    /// The snapshot, if `user` may use it.
    func snapshot(_ id: String, user: String, isOwner: Bool) throws -> Snapshot {
        guard let snapshot = self.state.withLock({ $0.snapshots[id] }), isOwner || snapshot.owner == user else {
            throw MLDeployError(code: .notFound, message: "There is no snapshot '\(id)'.")
        }
        return snapshot
    }

    /// Replaces a session's workspace with a snapshot's objects.
    func load(snapshot snapshotID: String, into sessionID: String, user: String, isOwner: Bool) throws {
        let snapshot = try self.snapshot(snapshotID, user: user, isOwner: isOwner)
        let session = try self.session(sessionID, user: user, isOwner: isOwner)
        try self.state.withLock { state in
            let held = state.sessions[sessionID]?.workspace.values.reduce(0) { $0 + $1.count } ?? 0
            try self.checkQuota(adding: snapshot.contentSize - held, for: session.owner, in: state, what: "Loading snapshot '\(snapshotID)'")
            state.sessions[sessionID]?.workspace = snapshot.objects
        }
    }

    /// Deletes a snapshot.
    func deleteSnapshot(_ id: String, user: String, isOwner: Bool) throws {
        _ = try self.snapshot(id, user: user, isOwner: isOwner)
        self.state.withLock { $0.snapshots[id] = nil }
    }
}
