import Foundation
import MLDeploy
import MLDeployServer
import MLDeployTestSupport
import PostgresServerState
import Testing

/// The server's state in PostgreSQL, seen by two stores on one database as two nodes see it.
@Suite("Server state in PostgreSQL")
struct PostgresServerStateTests {
    func stores(_ label: String, count: Int = 2) async throws -> [PostgresServerState] {
        let uri = try await PostgresServer.shared().makeDatabase(label)
        return try (0..<count).map { _ in try PostgresServerState(uri: uri) }
    }

    @Test("users added, changed and removed on one node are seen on the other at once; the admin is created once by four nodes starting together")
    func users() async throws {
        let stores = try await self.stores("stateusers", count: 4)
        defer { Task { for store in stores { await store.close() } } }
        let (a, b) = (UserStore(store: stores[0]), UserStore(store: stores[1]))
        // Four nodes start at once on an empty database: exactly one creates the admin.
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            for store in stores { group.addTask { try await UserStore(store: store).add("admin", password: "Pass123!", role: .owner, iterations: 1000, onlyIfNoUsers: true) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(created.filter { $0 }.count == 1, "\(created)")
        #expect(await b.authenticate(name: "admin", password: "Pass123!") == .owner)
        #expect(await b.role(of: "carol") == nil, "cached: no carol yet")
        try await a.add("carol", password: "Pass123!", role: .reader, iterations: 1000)
        try await waitFor { await b.role(of: "carol") == .reader }
        try await a.setRole("carol", .contributor)
        try await waitFor { await b.role(of: "carol") == .contributor }
        await #expect { try await b.add("carol", password: "x", role: .reader, iterations: 1000) } throws: { ($0 as? MLDeployError)?.code == .conflict }
        try await b.remove("carol")
        try await waitFor { await a.role(of: "carol") == nil }
        #expect(try await a.list().map(\.name) == ["admin"])
    }

    @Test("a token issued on one node is good on the other; refresh rotates across nodes; a revoked access token is refused everywhere")
    func tokens() async throws {
        let stores = try await self.stores("statetokens")
        defer { Task { for store in stores { await store.close() } } }
        let (a, b) = (TokenService(store: stores[0]), TokenService(store: stores[1]))
        let grant = try await a.issue(for: "alice", account: "acc1")
        #expect(await b.user(forAccessToken: grant.accessToken) == "alice", "one signing key for every node")
        let renewed = try await b.refresh(grant.refreshToken)
        await #expect { try await a.refresh(grant.refreshToken) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
        let claims = try #require(await a.claims(forAccessToken: renewed.accessToken))
        try await a.revoke(accessToken: claims)
        try await waitFor { await b.user(forAccessToken: renewed.accessToken) == nil }
        #expect(await a.user(forAccessToken: renewed.accessToken) == nil)
        // A store of another database has another key.
        let other = try await self.stores("statetokens2", count: 1)[0]
        #expect(await TokenService(store: other).user(forAccessToken: grant.accessToken) == nil)
        await other.close()
    }

    @Test("transactions are atomic across nodes: concurrent increments from two stores lose none; a failed one writes nothing")
    func transactions() async throws {
        let stores = try await self.stores("statetx")
        defer { Task { for store in stores { await store.close() } } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                let store = stores[index % 2]
                group.addTask {
                    try await store.transaction { transaction in
                        let count = try await transaction.value("n", in: .poolSettings).flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
                        try await transaction.set("n", Data("\(count + 1)".utf8), in: .poolSettings)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await stores[1].value("n", in: .poolSettings).map { String(decoding: $0, as: UTF8.self) } == "20")
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await stores[0].transaction { transaction in
                try await transaction.set("m", Data("1".utf8), in: .poolSettings)
                try await transaction.removeAll(in: .poolSettings, prefix: "")
                throw Refused()
            }
        }
        #expect(try await stores[1].entries(in: .poolSettings, prefix: "").map(\.key) == ["n"])
        let health = await stores[0].health()
        #expect(health.healthy && health.kind == "postgresql" && health.details["schemaVersion"] == "2", "\(health)")
    }
}

/// Waits up to five seconds for `condition` (a change reaching another node through its feed).
func waitFor(_ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw TestFailure("the change did not reach the other node within 5 s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
