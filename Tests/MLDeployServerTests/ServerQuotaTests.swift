import Foundation
import MLDeploy
@testable import MLDeployServer
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Per-user quotas: what one user's sessions may hold, how many sessions and calls they may have.
@Suite("Server quotas: per-user sessions, bytes and calls", .serialized)
struct ServerQuotaTests {
    private func openSession(_ base: URL, token: String) async throws -> (status: Int, id: String?, body: String) {
        let answer = try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token)
        return (answer.status, try? JSONValue(parsing: answer.body)["sessionId"]?.stringValue, answer.body)
    }

    @Test("workspace uploads, runs and snapshots past the user's byte quota are refused (413 quota-exceeded) and nothing of them is kept")
    func storageQuota() async throws {
        try await withServer(python: true, configure: { $0.userStorageQuota = 1 << 20 }) { server in
            let (base, token) = (server.base, try await server.token("carol"))
            let session = try #require(try await self.openSession(base, token: token).id)
            let path = "/sessions/\(session)/workspace"
            #expect(try await call(base, "POST", path + "/a", bytes: pickled(600 << 10), token: token).status == 200)
            // 600 KiB + 600 KiB > 1 MiB: refused, and `b` does not exist afterwards.
            let refused = try await call(base, "POST", path + "/b", bytes: pickled(600 << 10), token: token)
            #expect(refused.status == 413 && refused.body.contains("quota-exceeded") && refused.body.contains("1048576"), "\(refused.body)")
            #expect(try await call(base, "GET", path + "/b", token: token).status == 404)
            // Replacing `a` with something smaller counts the difference, not the sum.
            #expect(try await call(base, "POST", path + "/a", bytes: pickled(300 << 10), token: token).status == 200)

            // A run that makes more than the quota allows keeps none of its changes.
            let code = #"{"code": "small = 1\nbig = bytes(900 * 1024)", "inputParameters": null, "outputParameters": null}"#
            let run = try await call(base, "POST", "/sessions/\(session)/execute", body: code, token: token)
            #expect(run.status == 413 && run.body.contains("quota-exceeded"), "\(run.body)")
            let names = try JSONValue(parsing: try await call(base, "GET", path, token: token).body).arrayValue?.compactMap(\.stringValue)
            #expect(names == ["a"], "\(String(describing: names))")
            // The session is usable again after the refusal (not stuck "executing").
            let next = try await call(base, "POST", "/sessions/\(session)/execute", body: #"{"code": "small = 2"}"#, token: token)
            #expect(next.status == 200, "\(next.body)")

            // A snapshot holds its bytes too: 300 KiB in the session + 300 KiB snapshot fit, a
            // second snapshot (another 300 KiB) and a third do not both fit.
            #expect(try await call(base, "POST", "/sessions/\(session)/snapshot", body: "{}", token: token).status == 201)
            #expect(try await call(base, "POST", "/sessions/\(session)/snapshot", body: "{}", token: token).status == 201)
            let third = try await call(base, "POST", "/sessions/\(session)/snapshot", body: "{}", token: token)
            #expect(third.status == 413 && third.body.contains("quota-exceeded"), "\(third.body)")

            // Another user's quota is their own.
            let other = try await server.token("admin")
            let theirs = try #require(try await self.openSession(base, token: other).id)
            #expect(try await call(base, "POST", "/sessions/\(theirs)/workspace/a", bytes: pickled(900 << 10), token: other).status == 200)
        }
    }

    @Test("an upload declared past the quota, or to someone else's session, is refused before a byte of it is read")
    func uploadRefusedUnread() async throws {
        try await withServer(configure: { $0.userStorageQuota = 1 << 20; $0.idleTimeout = .seconds(120) }) { server in
            let (carol, admin) = (try await server.token("carol"), try await server.token("admin"))
            let session = try #require(try await self.openSession(server.base, token: carol).id)
            let port = try #require(server.base.port)
            func head(_ path: String, token: String, length: Int) -> String {
                "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/octet-stream\r\nContent-Length: \(length)\r\n\r\n"
            }
            // Only the head is sent: the answer must come without the body, and the connection close.
            let overQuota = await RawClient.exchange(port: port, request: head("/sessions/\(session)/workspace/big", token: carol, length: 2 << 20), hangUp: nil) ?? ""
            #expect(overQuota.hasPrefix("HTTP/1.1 413") && overQuota.contains("quota-exceeded"), "\(overQuota.prefix(300))")
            let foreign = await RawClient.exchange(port: port, request: head("/sessions/\(session)/workspace/big", token: try await server.token("rita"), length: 100), hangUp: nil) ?? ""
            #expect(foreign.hasPrefix("HTTP/1.1 403"), "a Reader may not upload at all: \(foreign.prefix(200))")
            let other = try #require(try await self.openSession(server.base, token: admin).id)
            let notTheirs = await RawClient.exchange(port: port, request: head("/sessions/\(other)/workspace/big", token: carol, length: 100), hangUp: nil) ?? ""
            #expect(notTheirs.hasPrefix("HTTP/1.1 404"), "\(notTheirs.prefix(200))")
        }
    }

    @Test("a user past the most sessions they may have gets 429 quota-exceeded until they close one")
    func sessionCount() async throws {
        try await withServer(configure: { $0.maximumSessionsPerUser = 2 }) { server in
            let (base, token) = (server.base, try await server.token("carol"))
            let first = try #require(try await self.openSession(base, token: token).id)
            #expect(try await self.openSession(base, token: token).status == 201)
            let third = try await self.openSession(base, token: token)
            #expect(third.status == 429 && third.body.contains("quota-exceeded"), "\(third.body)")
            #expect(try await self.openSession(base, token: try await server.token("admin")).status == 201, "another user is not limited by carol's sessions")
            #expect(try await call(base, "DELETE", "/sessions/\(first)", token: token).status == 200)
            #expect(try await self.openSession(base, token: token).status == 201)
        }
    }

    @Test("one user's calls in flight past their limit get 429 quota-exceeded with Retry-After; other users' calls go on")
    func callsPerUser() async throws {
        try await withServer(configure: { $0.maximumCallsPerUser = 2 }) { server in
            let waiting = Gate()
            _ = try await server.client.service("slow").version("1").handler("slow") { call in
                await waiting.pass()
                call.outputs["y"] = .integer(1)
            }.outputs(["y": .integer]).deploy()
            let (base, carol, admin) = (server.base, try await server.token("carol"), try await server.token("admin"))
            let busy = (0..<2).map { _ in Task { try await call(base, "POST", "/api/slow/1", body: "{}", token: carol) } }
            try await waiting.waitForArrivals(2)
            var request = URLRequest(url: URL(string: base.absoluteString + "/api/slow/1")!)
            request.httpMethod = "POST"
            request.httpBody = Data("{}".utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer " + carol, forHTTPHeaderField: "Authorization")
            let (body, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 429 && http.value(forHTTPHeaderField: "Retry-After") == "1", "\(String(decoding: body, as: UTF8.self))")
            #expect(String(decoding: body, as: UTF8.self).contains("quota-exceeded"))
            // Admin is another user: admitted (and held at the gate like the others).
            let adminCall = Task { try await call(base, "POST", "/api/slow/1", body: "{}", token: admin) }
            try await waiting.waitForArrivals(3)
            for _ in 0..<3 { await waiting.release() }
            for task in busy { #expect(try await task.value.status == 200) }
            #expect(try await adminCall.value.status == 200)
            // With the calls done, carol may call again.
            await waiting.release()
            #expect(try await call(base, "POST", "/api/slow/1", body: "{}", token: carol).status == 200)
        }
    }
}

/// A Python pickle (protocol 3) of a `bytes` object of `count` zero bytes: what the SDK uploads
/// as a workspace object, so runs can load it.
private func pickled(_ count: Int) -> Data {
    var data = Data([0x80, 0x03, UInt8(ascii: "B")])
    withUnsafeBytes(of: UInt32(count).littleEndian) { data.append(contentsOf: $0) }
    data.append(Data(count: count))
    data.append(UInt8(ascii: "."))
    return data
}

/// Holds callers until released, and lets a test wait until a number of them arrived.
private actor Gate {
    private var held: [CheckedContinuation<Void, Never>] = []
    private var permits = 0
    private var arrivals = 0

    func pass() async {
        self.arrivals += 1
        if self.permits > 0 {
            self.permits -= 1
            return
        }
        await withCheckedContinuation { self.held.append($0) }
    }

    func release() {
        if self.held.isEmpty { self.permits += 1 } else { self.held.removeFirst().resume() }
    }

    func waitForArrivals(_ count: Int) async throws {
        while self.arrivals < count { try await Task.sleep(for: .milliseconds(10)) }
    }
}
