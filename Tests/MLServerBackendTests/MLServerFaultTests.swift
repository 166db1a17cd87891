import Foundation
import MLDeploy
import MLDeployHTTP
import MLDeployServer
import MLServerBackend
import Testing

@Suite("MLServer backend under faults, through a fault-injecting front")
struct MLServerFaultTests {
    @Test("a token that expires mid-run is refreshed without a user-visible error")
    func tokenExpiry() async throws {
        // Tokens short enough to expire several times in the run, long enough that one request on a
        // loaded machine (a whole parallel test run) does not outlast a fresh token.
        try await LocalMLServer.with(configure: { $0.accessTokenLifetime = .seconds(5) }) { server in
            let front = try await Front.start(upstreamPort: server.port)
            defer { front.stop() }
            let client = try await server.client(base: front.base)
            let service = try await client.service("echo").version("1").code("y = x").inputs(["x": .integer]).outputs(["y": .integer]).deploy()
            let clock = ContinuousClock()
            let until = clock.now + .seconds(12)
            var calls = 0
            while clock.now < until {
                #expect(try await service.consume(["x": .integer(calls)]).output("y")?.intValue == calls)
                calls += 1
                try await Task.sleep(for: .milliseconds(200))
            }
            let refreshes = try await front.requests().filter { $0.path == "/login/refreshToken" }
            #expect(refreshes.count >= 2, "a 5-second token over 12 seconds is refreshed at least twice")
            #expect(refreshes.allSatisfy { $0.json?["refreshToken"]?.stringValue?.isEmpty == false })
            try await client.shutdown()
        }
    }

    @Test("503s are retried, for reads and for consume; a 500 is not")
    func unavailable() async throws {
        try await LocalMLServer.with { server in
            let front = try await Front.start(upstreamPort: server.port)
            defer { front.stop() }
            var settings = HTTPClientSettings()
            settings.configuration.retry.controlPlane.initialBackoff = .milliseconds(10)
            settings.configuration.retry.consume.initialBackoff = .milliseconds(10)
            let client = try await server.client(base: front.base, http: settings)
            let service = try await client.service("flaky").version("1").code("y = x + 1").inputs(["x": .integer]).outputs(["y": .integer]).deploy()
            try await front.clearLog()
            try await front.fail("/api/flaky/1", status: 503, times: 2)
            #expect(try await service.consume(["x": .integer(1)]).output("y")?.intValue == 2)
            try await front.fail("/services/flaky", status: 503, times: 2)
            #expect(try await client.listServices("flaky").count == 1)
            let log = try await front.requests()
            #expect(log.filter { $0.path == "/api/flaky/1" }.count == 3 && log.filter { $0.path == "/services/flaky" }.count == 3)
            try await front.fail("/api/flaky/1", status: 500, times: 1)
            await #expect { try await service.consume(["x": .integer(1)]) } throws: { ($0 as? MLDeployError)?.code == .backendFailure && ($0 as? MLDeployError)?.httpStatus == 500 }
            try await client.shutdown()
        }
    }

    @Test("a publish that fails after its session was made still deletes the session and the snapshot")
    func cleanUpAfterFailure() async throws {
        try await LocalMLServer.with { server in
            let front = try await Front.start(upstreamPort: server.port)
            defer { front.stop() }
            let client = try await server.client(base: front.base)
            try await front.fail("/services/doomed", status: 500, times: 1)
            await #expect { try await client.service("doomed").version("1").code("y = 1").object("o", .integer(1)).object("p", pickled: MLServerBackendTests.pickledFifty).deploy() } throws: {
                ($0 as? MLDeployError)?.httpStatus == 500
            }
            // Failing while materializing simple objects in the session (before any snapshot) cleans up too.
            try await front.fail("/execute", status: 500, times: 1)
            await #expect { try await client.service("doomed").version("2").code("y = 1").object("o", .integer(1)).deploy() } throws: {
                ($0 as? MLDeployError)?.httpStatus == 500
            }
            let log = try await front.requests()
            let sessions = log.filter { $0.method == "POST" && $0.path == "/sessions" }.count
            let deleted = log.filter { $0.method == "DELETE" && $0.path.hasPrefix("/sessions/") }.count
            #expect(sessions >= 1 && deleted == sessions, "every session made was deleted")
            #expect(log.filter { $0.method == "DELETE" && $0.path.hasPrefix("/snapshots/") }.count == 1)
            // Nothing is left on the server.
            let token = try await server.server.issueTokens(for: "admin").accessToken
            let http = HTTPClient()
            for path in ["/sessions", "/snapshots"] {
                let response = try await http.send(try HTTPRequest(.get, server.base + path, headers: ["Authorization": "Bearer \(token)"]))
                let left = try JSONValue(parsing: response.bytes).arrayValue
                #expect(response.status == 200 && left?.isEmpty == true, "\(path): \(response.text)")
            }
            await http.shutdown()
            try await client.shutdown()
        }
    }
}
