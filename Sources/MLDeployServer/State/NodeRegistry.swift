import Foundation
import Logging
import MLDeploy

/// The server nodes sharing one state store: each running node writes a heartbeat entry (its
/// address, start time and Python pool counters) every ``interval``; `GET /status` lists the nodes
/// heard from within three intervals, one child of `components.backends` each, as ML Server lists
/// its compute nodes. A node that stops cleanly removes its entry; one that dies drops out of the
/// list when its heartbeat ages, and its entry is swept an hour later.
struct NodeRegistry: Sendable {
    /// How often a node writes its heartbeat.
    static let interval: Duration = .seconds(5)
    /// How long after its last heartbeat a node still counts as live.
    static let liveness: TimeInterval = 15
    /// How long after its last heartbeat a dead node's entry is swept.
    static let retention: TimeInterval = 3600

    let store: any ServerStateStore
    let node: String

    /// A new node id: the host name, the process id and a random suffix (a restarted process is a
    /// new node).
    static func newNodeID() -> String {
        let suffix = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(suffix)"
    }

    /// Writes this node's entry now (and sweeps long-dead nodes' entries).
    func beat(url: String, startedAt: Date, details: JSONObject) async throws {
        let now = Date()
        let entry: JSONValue = [
            "id": .string(self.node), "url": .string(url), "startedAt": .double(startedAt.timeIntervalSince1970),
            "heartbeat": .double(now.timeIntervalSince1970), "details": .object(details),
        ]
        let node = self.node
        try await self.store.transaction { transaction in
            for (id, other) in try await transaction.jsonEntries(in: .nodes)
            where id != node && (other["heartbeat"]?.doubleValue ?? 0) < now.timeIntervalSince1970 - Self.retention {
                try await transaction.remove(id, in: .nodes)
            }
            try await transaction.set(node, json: entry, in: .nodes)
        }
    }

    /// Removes this node's entry (a clean stop).
    func leave() async {
        let node = self.node
        try? await self.store.transaction { try await $0.remove(node, in: .nodes) }
    }

    /// The nodes heard from lately, by id.
    func liveNodes(now: Date = Date()) async throws -> [(id: String, entry: JSONValue)] {
        try await self.store.jsonEntries(in: .nodes).filter { ($0.value["heartbeat"]?.doubleValue ?? 0) >= now.timeIntervalSince1970 - Self.liveness }
            .map { ($0.key, $0.value) }
    }

    /// Beats every ``interval`` until cancelled; a failed beat is logged and retried at the next.
    func run(url: String, details: @escaping @Sendable () async -> JSONObject, logger: Logger) async {
        let startedAt = Date()
        while !Task.isCancelled {
            do {
                try await self.beat(url: url, startedAt: startedAt, details: await details())
            } catch {
                logger.warning("node heartbeat failed", metadata: ["node": "\(self.node)", "error": "\(error)"])
            }
            try? await Task.sleep(for: Self.interval)
        }
    }
}
