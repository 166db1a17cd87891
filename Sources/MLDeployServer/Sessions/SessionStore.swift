import Foundation
import MLDeploy
import Synchronization

/// The authoring sessions and snapshots the Python SDK's publish flow uses (spec §2.1, §3.4): a
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
