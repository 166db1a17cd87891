import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

/// `GET /metrics` of a real `mldeploy serve`, checked by Prometheus's own `promtool`.
@Suite("Server metrics (Prometheus)")
struct ServerMetricsTests {
    /// Starts `mldeploy serve` with `extra` arguments and environment; returns it and its base URL.
    static func serve(_ directory: URL, arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> (ChildProcess, URL) {
        let (server, base, _) = try await Self.start(directory, arguments: arguments, environment: extra)
        return (server, base)
    }

    /// Starts `mldeploy serve`; returns it, its base URL and the line saying where it listens.
    static func start(_ directory: URL, arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> (ChildProcess, URL, String) {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Metrics-Pass-1"
        environment.merge(extra) { _, new in new }
        let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", directory.path] + arguments, name: "mldeploy serve", environment: environment)
        let line = try await server.waitForLine { $0.contains("listening on http://127.0.0.1:") }
        let base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { URL(string: String(line[$0]))! })
        return (server, base, line)
    }

    static func login(_ base: URL, password: String = "Metrics-Pass-1") async throws -> (status: Int, token: String?) {
        let answer = try await call(base, "POST", "/login", body: #"{"username": "admin", "password": "\#(password)"}"#)
        return (answer.status, (try? JSONValue(parsing: answer.body))?["access_token"]?.stringValue)
    }

    @Test("the exposition passes promtool and counts requests, operations, the Python pool and logins; health and metrics are not counted", .timeLimit(.minutes(3)))
    func exposition() async throws {
        let directory = try temporaryDirectory("metrics")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, base) = try await Self.serve(directory)
        defer { server.stop() }
        let token = try #require(try await Self.login(base).token)
        #expect(try await Self.login(base, password: "wrong").status == 401)
        let publish = #"{"code": "y = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "numeric"}], "outputParameterDefinitions": [{"name": "y", "type": "numeric"}]}"#
        #expect(try await call(base, "POST", "/services/doubler/1", body: publish, token: token).status == 201)
        for x in 0..<3 { #expect(try await call(base, "POST", "/api/doubler/1", body: #"{"x": \#(x)}"#, token: token).status == 200) }
        #expect(try await call(base, "GET", "/services/nosuch/1", token: token).status == 404)
        #expect(try await call(base, "GET", "/services").status == 401)
        for _ in 0..<2 { _ = try await call(base, "GET", "/status") }
        let started = try await call(base, "POST", "/api/doubler/1/batch?parallelCount=2", body: #"[{"x": 1}, {"x": 2}, {"x": 3}]"#, token: token)
        let execution = try #require((try? JSONValue(parsing: started.body))?["batchExecutionId"]?.stringValue, "\(started.body)")
        for _ in 0..<100 {
            let status = try await call(base, "GET", "/api/doubler/1/batch/\(execution)", token: token)
            if (try? JSONValue(parsing: status.body))?["state"]?.stringValue == "Complete" { break }
            try await Task.sleep(for: .milliseconds(100))
        }

        let scrape = try await call(base, "GET", "/metrics")
        #expect(scrape.status == 200)
        let head = try await runToCompletion("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", base.appendingPathComponent("metrics").absoluteString])
        #expect(head.output.lowercased().contains("content-type: text/plain; version=0.0.4"), "\(head.output)")
        let text = scrape.body
        let file = directory.appendingPathComponent("metrics.txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let promtool = try await runToCompletion("/bin/sh", ["-c", "promtool check metrics < '\(file.path)'"])
        #expect(promtool.status == 0, "promtool: \(promtool.output)")

        let lines = text.split(separator: "\n").map(String.init)
        func value(_ prefix: String) -> Double? {
            lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect(value(#"mldeploy_http_requests_total{method="POST",route="/api/{name}/{version}",service="doubler",version="1",status="200"}"#) == 3, "\(text)")
        #expect(value(#"mldeploy_http_requests_total{method="GET",route="/services/{name}/{version}",service="nosuch",version="1",status="404"}"#) == 1, "\(text)")
        #expect(value(#"mldeploy_operations_total{operation="consume",backend="filesystem",service="doubler",version="1",outcome="success"}"#) == 3, "\(text)")
        #expect(value(#"mldeploy_operations_total{operation="getService",backend="filesystem",service="nosuch",version="1",outcome="not-found"}"#) == 1, "\(text)")
        #expect(value(#"mldeploy_logins_total{outcome="success"}"#) == 1 && value(#"mldeploy_logins_total{outcome="refused"}"#) == 1, "\(text)")
        #expect(value("mldeploy_token_refusals_total") == 1, "\(text)")
        #expect(value(#"mldeploy_python_workers{service="doubler",version="1",state="idle"}"#) ?? 0 >= 1, "\(text)")
        #expect((value("mldeploy_python_worker_starts_total") ?? 0) >= 1, "\(text)")
        // Where Python calls spend their time, stage by stage (3 consumes and 3 batch records).
        for stage in ["queue", "worker", "decode"] {
            #expect(value(#"mldeploy_python_stage_seconds_count{stage="\#(stage)"}"#) == 6, "stage \(stage): \(text)")
        }
        #expect(text.contains(#"mldeploy_http_request_duration_seconds_bucket{method="POST",route="/api/{name}/{version}""#), "\(text)")
        #expect(value(#"mldeploy_batch_executions_total{service="doubler",version="1"}"#) == 1, "\(text)")
        #expect(value(#"mldeploy_batch_records_total{service="doubler",version="1",state="succeeded"}"#) == 3, "\(text)")
        #expect(!text.contains(#"route="/status""#) && !text.contains(#"route="/metrics""#), "health and metrics requests are counted: \(text)")
    }

    @Test("server.metrics: token requires a signed-in user, off removes the route")
    func access() async throws {
        let directory = try temporaryDirectory("metrics-access")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (tokenServer, tokenBase) = try await Self.serve(directory.appendingPathComponent("token"), environment: ["MLDEPLOY_SERVER_METRICS": "token"])
        defer { tokenServer.stop() }
        #expect(try await call(tokenBase, "GET", "/metrics").status == 401)
        let token = try #require(try await Self.login(tokenBase).token)
        #expect(try await call(tokenBase, "GET", "/metrics", token: token).status == 200)
        let (offServer, offBase) = try await Self.serve(directory.appendingPathComponent("off"), environment: ["MLDEPLOY_SERVER_METRICS": "off"])
        defer { offServer.stop() }
        // Like any path the server does not serve: 401 without a token, 404 with one.
        let offToken = try #require(try await Self.login(offBase).token)
        #expect(try await call(offBase, "GET", "/metrics", token: offToken).status == 404)
    }

    @Test("--metrics-port serves /metrics on a port of its own (the API's answers 404 naming it); a busy or clashing metrics port stops the server before it creates anything")
    func separatePort() async throws {
        let directory = try temporaryDirectory("metrics-port")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, base, line) = try await Self.start(directory.appendingPathComponent("a"), arguments: ["--metrics-port", "0"])
        defer { server.stop() }
        let metrics = try #require(line.range(of: #"metrics on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { URL(string: String(line[$0].dropFirst("metrics on ".count)))! }, "\(line)")
        #expect(metrics.port != base.port)
        let token = try #require(try await Self.login(base).token)
        #expect(try await call(base, "GET", "/services", token: token).status == 200)
        let scrape = try await call(metrics, "GET", "/metrics")
        #expect(scrape.status == 200 && scrape.body.contains(#"route="/services""#), "\(scrape.body)")
        // Only the metrics are on that port.
        #expect(try await call(metrics, "GET", "/services", token: token).status == 404)
        let onAPI = try await call(base, "GET", "/metrics", token: token)
        #expect(onAPI.status == 404 && onAPI.body.contains(":\(metrics.port!)/metrics"), "\(onAPI.body)")

        // The API's own port, taken by the first server: refused, and no data directory made.
        let busy = directory.appendingPathComponent("b")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_METRICS_PORT"] = String(base.port!)
        let refused = try await runToCompletion(CLI.executable, ["serve", "--port", "0", "--data-dir", busy.path], environment: environment)
        #expect(refused.status != 0 && refused.output.contains("Port \(base.port!)") && refused.output.contains("--metrics-port"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: busy.path))
        let same = try await runToCompletion(CLI.executable, ["serve", "--port", "12999", "--metrics-port", "12999", "--data-dir", busy.path], environment: environment)
        #expect(same.status != 0 && same.output.contains("port of their own"), "\(same.output)")
        #expect(!FileManager.default.fileExists(atPath: busy.path))
    }
}
