import Foundation
import Logging
import MLDeploy
import MLDeployServer
import Synchronization
import Testing

/// Collects log lines, for checking what the server logs.
final class CapturingLogHandler: LogHandler, Sendable {
    private let storage = Mutex<[String]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .info }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let metadata = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        self.storage.withLock { $0.append("\(event.message) \(metadata)") }
    }

    var lines: [String] { self.storage.withLock { $0 } }
}

@Suite("Server operations: access logs and limits")
struct ServerOperationsTests {
    @Test("one access log line per request: method, path without the query, status, duration, user — never a token")
    func accessLog() async throws {
        let handler = CapturingLogHandler()
        try await withServer(logger: Logger(label: "test") { _ in handler }) { server in
            let token = try await server.token("carol")
            _ = try await call(server.base, "GET", "/services", token: token)
            _ = try await call(server.base, "GET", "/services/missing/1", token: token)
            _ = try await call(server.base, "DELETE", "/login/refreshToken?refreshToken=secret-refresh")
            _ = try await call(server.base, "GET", "/services")
        }
        let requests = handler.lines.filter { $0.hasPrefix("request ") }
        #expect(requests.contains { $0.contains("method=GET") && $0.contains("path=/services ") && $0.contains("status=200") && $0.contains("user=carol") })
        #expect(requests.contains { $0.contains("path=/services/missing/1") && $0.contains("status=404") })
        #expect(requests.contains { $0.contains("path=/services ") && $0.contains("status=401") && $0.contains("user=-") })
        #expect(requests.contains { $0.contains("duration_ms=") })
        let all = handler.lines.joined(separator: "\n")
        #expect(!all.contains("secret-refresh") && !all.contains("Pass123!") && !all.contains("mld1."), "no secrets in logs")
    }

    @Test("oversized bodies get a 413 and over-deep JSON a 400, and the server keeps serving")
    func limits() async throws {
        try await withServer(configure: { $0.maximumJSONBodySize = 4096; $0.maximumUploadSize = 2048 }) { server in
            let token = try await server.token()
            let big = "{\"x\": \"" + String(repeating: "a", count: 5000) + "\"}"
            let tooBig = try await call(server.base, "POST", "/api/a/1", body: big, token: token)
            #expect(tooBig.status == 413 && tooBig.body.contains("larger than"))
            let session = try #require(try JSONValue(parsing: try await call(server.base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token).body)["sessionId"]?.stringValue)
            #expect(try await call(server.base, "POST", "/sessions/\(session)/workspace/m", bytes: Data(count: 4096), token: token).status == 413)
            #expect(try await call(server.base, "POST", "/sessions/\(session)/workspace/m", bytes: Data(count: 1024), token: token).status == 200)
            let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
            let tooDeep = try await call(server.base, "POST", "/api/a/1", body: deep, token: token)
            #expect(tooDeep.status == 400 && tooDeep.body.contains("nesting"))
            #expect(try await call(server.base, "GET", "/status").status == 200)
        }
    }
}

@Suite("Server status and service pools", .serialized)
struct ServerPoolTests {
    @Test("status reports the Python pool; a version's pool size is set, read, enforced and reset")
    func pools() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token())
            let status = try JSONValue(parsing: try await call(base, "GET", "/status").body)
            let details = status["components"]?["backends"]?["details"]
            #expect(details?["pythonMaxPoolSize"]?.intValue == 8 && details?["pythonCurrentPoolSize"]?.intValue == 0)
            #expect(details?["pythonIsolation"]?.stringValue == "sandbox" && details?["pythonWorkerUser"]?.stringValue == "nobody")
            #expect(details?["pythonNetwork"]?.stringValue == "host" && details?["pythonTreeLimits"] != nil)

            let publish = #"{"code": "import os, time\ntime.sleep(0.2)\npid = os.getpid()", "runtimeType": "Python", "outputParameterDefinitions": [{"name": "pid", "type": "integer"}]}"#
            #expect(try await call(base, "POST", "/services/p/1", body: publish, token: token).status == 201)
            let initial = try JSONValue(parsing: try await call(base, "GET", "/services/p/1/pool", token: token).body).arrayValue?.first
            #expect(initial?["Status"]?.stringValue == "NotFound" && initial?["MaxPoolSize"]?.intValue == 2)

            #expect(try await call(base, "POST", "/services/p/1/pool", body: #"{"InitialPoolSize": 0, "MaxPoolSize": 1}"#, token: token).status == 200)
            let set = try JSONValue(parsing: try await call(base, "GET", "/services/p/1/pool", token: token).body).arrayValue?.first
            #expect(set?["Status"]?.stringValue == "Success" && set?["MaxPoolSize"]?.intValue == 1)
            // With one worker allowed, concurrent calls share it (one process id).
            let pids = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<4 {
                    group.addTask { try JSONValue(parsing: try await call(base, "POST", "/api/p/1", body: "{}", token: token).body)["outputParameters"]?["pid"]?.intValue }
                }
                return try await group.reduce(into: Set<Int?>()) { $0.insert($1) }
            }
            #expect(pids.count == 1 && !pids.contains(nil), "\(pids)")

            for body in [#"{"InitialPoolSize": 3, "MaxPoolSize": 2}"#, #"{"InitialPoolSize": 0, "MaxPoolSize": 0}"#, #"{"InitialPoolSize": 0, "MaxPoolSize": 99}"#, #"{"MaxPoolSize": 2}"#] {
                #expect(try await call(base, "POST", "/services/p/1/pool", body: body, token: token).status == 400, "\(body)")
            }
            #expect(try await call(base, "POST", "/services/p/1/pool", body: #"{"InitialPoolSize": 0, "MaxPoolSize": 2}"#, token: try await server.token("rita")).status == 403)
            #expect(try await call(base, "DELETE", "/services/p/1/pool", token: token).status == 200)
            let reset = try JSONValue(parsing: try await call(base, "GET", "/services/p/1/pool", token: token).body).arrayValue?.first
            #expect(reset?["Status"]?.stringValue == "NotFound" && reset?["MaxPoolSize"]?.intValue == 2)
            #expect(try await call(base, "GET", "/services/none/1/pool", token: token).status == 404)
        }
    }
}

@Suite("Server under client disconnects", .serialized)
struct ServerDisconnectTests {
    /// Clients that hang up while their Python calls wait for a worker or run must not crash or wedge
    /// the server: this once crashed the release build (a race on the pool's waiter list).
    @Test("clients that hang up mid-request (queued or running) leave the server serving", .timeLimit(.minutes(5)))
    func disconnects() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token())
            let port = try #require(base.port)
            let publish = #"{"code": "import time\ntime.sleep(0.01)\ny = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(base, "POST", "/services/d/1", body: publish, token: token).status == 201)
            var answered = 0
            for round in 0..<10 {
                let outcomes = await withTaskGroup(of: String?.self) { group in
                    for index in 0..<24 {
                        let body = #"{"x": \#(index)}"#
                        let request = "POST /api/d/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                        // Every other client hangs up after a few milliseconds (half of those with a reset),
                        // while its call waits in the queue or runs; the others read their answers.
                        let hangUp: RawClient.HangUp? = (index + round) % 2 == 0 ? .after(.milliseconds(Int.random(in: 1...30)), reset: index % 4 == 0) : nil
                        group.addTask { await RawClient.exchange(port: port, request: request, hangUp: hangUp) }
                    }
                    return await group.reduce(into: [String?]()) { $0.append($1) }
                }
                answered += outcomes.compactMap { $0 }.filter { $0.hasPrefix("HTTP/1.1 200") }.count
            }
            #expect(answered == 10 * 12, "every client that waited got its answer")
            let answer = try await call(base, "POST", "/api/d/1", body: #"{"x": 21}"#, token: token)
            #expect(answer.status == 200 && answer.body.contains("42"), "\(answer.body)")
            // Nothing stays busy or queued once the abandoned calls are cleaned up.
            var pool = JSONValue.null
            for _ in 0..<100 {
                pool = try JSONValue(parsing: try await call(base, "GET", "/services/d/1/pool", token: token).body).arrayValue?.first ?? .null
                if pool["ActiveShellCount"]?.intValue == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(pool["ActiveShellCount"]?.intValue == 0, "\(pool)")
            #expect((pool["CurrentPoolSize"]?.intValue ?? 99) <= 2, "\(pool)")
        }
    }
}

