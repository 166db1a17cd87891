import Foundation
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
/// service never depends on them.
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

    private let state = Mutex<(sessions: [String: Session], snapshots: [String: Snapshot])>(([:], [:]))

    /// Opens a session; returns its id.
    func createSession(owner: String, name: String?, runtimeType: String, from snapshot: Snapshot? = nil) -> String {
        let id = UUID().uuidString.lowercased()
        self.state.withLock {
            $0.sessions[id] = Session(id: id, owner: owner, name: name, runtimeType: runtimeType, workspace: snapshot?.objects ?? [:])
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

    /// Stores a workspace object in a session.
    func putObject(_ name: String, _ bytes: Data, session id: String, user: String, isOwner: Bool) throws {
        try NameRules.checkIdentifier(name, role: "workspace object")
        _ = try self.session(id, user: user, isOwner: isOwner)
        self.state.withLock { $0.sessions[id]?.workspace[name] = bytes }
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
    func endExecution(session id: String, code: String, outcome: PythonExecution?) {
        self.state.withLock { state in
            guard var session = state.sessions[id] else { return }
            session.executing = false
            if let outcome {
                for (name, bytes) in outcome.changedObjects { session.workspace[name] = bytes }
                for name in outcome.removedObjects { session.workspace[name] = nil }
                session.consoleOutput = outcome.consoleOutput
                session.history.append(code)
            }
            state.sessions[id] = session
        }
    }

    /// Closes a session.
    func deleteSession(_ id: String, user: String, isOwner: Bool) throws {
        _ = try self.session(id, user: user, isOwner: isOwner)
        self.state.withLock { $0.sessions[id] = nil }
    }

    /// Freezes a session's workspace; returns the snapshot's id.
    func snapshot(session id: String, name: String?, user: String, isOwner: Bool) throws -> String {
        let session = try self.session(id, user: user, isOwner: isOwner)
        let snapshotID = UUID().uuidString.lowercased()
        self.state.withLock {
            $0.snapshots[snapshotID] = Snapshot(id: snapshotID, owner: session.owner, name: name, creationTime: Date(), objects: session.workspace)
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
        _ = try self.session(sessionID, user: user, isOwner: isOwner)
        self.state.withLock { $0.sessions[sessionID]?.workspace = snapshot.objects }
    }

    /// Deletes a snapshot.
    func deleteSnapshot(_ id: String, user: String, isOwner: Bool) throws {
        _ = try self.snapshot(id, user: user, isOwner: isOwner)
        self.state.withLock { $0.snapshots[id] = nil }
    }
}
