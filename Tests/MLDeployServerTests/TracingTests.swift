import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

/// One `mldeploy consume` against a real `mldeploy serve`, both exporting to a real OTLP/HTTP
/// receiver (Python, `opentelemetry-proto`): one trace, spans from both processes, linked.
@Suite("Traces across processes (OpenTelemetry)")
struct TracingTests {
    struct RecordedSpan: Sendable {
        var service: String, name: String, kind: Int, traceID: String, spanID: String, parentSpanID: String
    }

    static func spans(in file: URL) -> [RecordedSpan] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let json = try? JSONValue(parsing: String(line)) else { return nil }
            return RecordedSpan(
                service: json["service"]?.stringValue ?? "", name: json["name"]?.stringValue ?? "", kind: json["kind"]?.intValue ?? 0,
                traceID: json["traceId"]?.stringValue ?? "", spanID: json["spanId"]?.stringValue ?? "", parentSpanID: json["parentSpanId"]?.stringValue ?? ""
            )
        }
    }

    @Test("the CLI's spans and the server's share one trace: command → operation → server request → operation → Python call", .timeLimit(.minutes(3)))
    func acrossProcesses() async throws {
        let directory = try temporaryDirectory("tracing")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("spans.jsonl")
        let receiverScript = PythonSDKInteropTests.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/otlp_receiver.py").path
        let receiver = try ChildProcess("/usr/bin/env", ["python3", receiverScript, file.path], name: "OTLP receiver")
        defer { receiver.stop() }
        // A whole line only: a chunk can end in the middle of one.
        let ready = try await receiver.waitForLine { $0.hasPrefix("listening ") && $0.hasSuffix(" ready") }
        let port = try #require(Int(ready.split(separator: " ")[1]))

        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") && !$0.key.hasPrefix("OTEL_") }
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:\(port)"
        environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        environment["OTEL_BSP_SCHEDULE_DELAY"] = "100"
        var serverEnvironment = environment
        serverEnvironment["OTEL_SERVICE_NAME"] = "ml-server"
        serverEnvironment["MLDEPLOY_ADMIN_PASSWORD"] = "Trace-Pass-1"
        serverEnvironment["MLDEPLOY_SERVER_LOG_FORMAT"] = "json"
        let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path], name: "mldeploy serve", environment: serverEnvironment)
        defer { server.stop() }
        let line = try await server.waitForLine { $0.contains("listening on http://127.0.0.1:") }
        let base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })

        var cli = try CLI()
        defer { cli.remove() }
        cli.environment = environment.merging(["HOME": cli.directory.appendingPathComponent("home").path, "MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Trace-Pass-1", "OTEL_SERVICE_NAME": "ml-cli"]) { _, new in new }
        try cli.write("double.py", "y = x * 2\n")
        let target = ["--target", "mlserver+http://\(base.dropFirst("http://".count))"]
        let deployed = try await cli.run(target + ["deploy", "doubler", "--version", "1", "--code", "double.py", "--input", "x=numeric", "--output", "y=numeric"])
        #expect(deployed.status == 0, "\(deployed.error)")
        let consumed = try await cli.run(target + ["consume", "doubler", "x=21"])
        #expect(consumed.status == 0 && consumed.output.contains("42"), "\(consumed.output)\(consumed.error)")
        try cli.write("records.jsonl", "{\"x\": 1}\n{\"x\": 2}\n")
        let batch = try await cli.run(target + ["batch", "start", "doubler", "--version", "1", "--records", "records.jsonl", "--wait"])
        #expect(batch.status == 0, "\(batch.output)\(batch.error)")

        // The CLI flushed before exiting; the server exports within its schedule delay.
        var spans: [RecordedSpan] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            spans = Self.spans(in: file)
            if spans.contains(where: { $0.service == "ml-server" && $0.name == "mldeploy.python.call" }),
               spans.filter({ $0.service == "ml-server" && $0.name == "mldeploy.batch.record" }).count >= 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let summary = spans.map { "\($0.service) \($0.name) kind=\($0.kind) trace=\($0.traceID.prefix(8)) span=\($0.spanID.prefix(8)) parent=\($0.parentSpanID.prefix(8))" }.joined(separator: "\n")
        // The consume command's trace: its root, then the consume operation.
        let comment = Comment(rawValue: summary)
        func find(_ match: (RecordedSpan) -> Bool) throws -> RecordedSpan {
            guard let span = spans.last(where: match) else { throw TestFailure("no such span among:\n\(summary)") }
            return span
        }
        let consumeOperation = try find { $0.service == "ml-cli" && $0.name == "mldeploy.consume" }
        let root = try find { $0.service == "ml-cli" && $0.spanID == consumeOperation.parentSpanID }
        #expect(root.name == "mldeploy" && root.parentSpanID.isEmpty, comment)
        #expect(consumeOperation.kind == 3, comment)  // SPAN_KIND_CLIENT
        // The server's request span continues it, and its own spans hang under it.
        let request = try find { $0.service == "ml-server" && $0.kind == 2 && $0.parentSpanID == consumeOperation.spanID }  // SPAN_KIND_SERVER
        #expect(request.traceID == root.traceID && request.name == "/api/{name}/{version}", comment)
        let serverOperation = try find { $0.service == "ml-server" && $0.name == "mldeploy.consume" && $0.parentSpanID == request.spanID }
        let python = try find { $0.service == "ml-server" && $0.name == "mldeploy.python.call" && $0.traceID == root.traceID }
        #expect(python.parentSpanID == serverOperation.spanID, comment)
        // Every batch record has its span, and its Python call is the record's child.
        let records = spans.filter { $0.service == "ml-server" && $0.name == "mldeploy.batch.record" }
        #expect(records.count == 2, comment)
        for record in records {
            #expect(spans.contains { $0.name == "mldeploy.python.call" && $0.parentSpanID == record.spanID && $0.traceID == record.traceID }, comment)
        }

        // server.log_format: json — the consume's access log line is one JSON object carrying the trace.
        let logged = try await server.waitForLine(timeout: .seconds(10)) { $0.contains(#""path":"\/api\/doubler\/1""#) || $0.contains(#""path":"/api/doubler/1""#) }
        let entry = try JSONValue(parsing: logged)
        #expect(entry["message"]?.stringValue == "request" && entry["level"]?.stringValue == "info", "\(logged)")
        #expect(entry["trace_id"]?.stringValue == root.traceID, "\(logged)")
    }

    @Test("a full export queue drops spans, never requests, and counts them in mldeploy_otel_spans_dropped_total", .timeLimit(.minutes(2)))
    func droppedSpansAreCounted() async throws {
        let directory = try temporaryDirectory("tracing-drops")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiverScript = PythonSDKInteropTests.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/otlp_receiver.py").path
        let receiver = try ChildProcess("/usr/bin/env", ["python3", receiverScript, directory.appendingPathComponent("spans.jsonl").path], name: "OTLP receiver")
        defer { receiver.stop() }
        let ready = try await receiver.waitForLine { $0.hasPrefix("listening ") && $0.hasSuffix(" ready") }
        let port = try #require(Int(ready.split(separator: " ")[1]))
        // A queue of one span: a request's spans end together, so all but the first are dropped.
        let (server, base) = try await ServerMetricsTests.serve(directory.appendingPathComponent("data"), environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)", "OTEL_BSP_MAX_QUEUE_SIZE": "1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        ])
        defer { server.stop() }
        let token = try #require(try await ServerMetricsTests.login(base).token)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 { group.addTask { try await call(base, "GET", "/services", token: token).status } }
            for try await status in group { #expect(status == 200) }
        }
        var dropped = 0.0
        let deadline = ContinuousClock.now + .seconds(15)
        while dropped == 0, ContinuousClock.now < deadline {
            // More spans: the drops are reported at the processor's next export round.
            _ = try await call(base, "GET", "/services", token: token)
            let text = try await call(base, "GET", "/metrics").body
            dropped = text.split(separator: "\n").first { $0.hasPrefix("mldeploy_otel_spans_dropped_total ") }.flatMap { Double($0.split(separator: " ").last!) } ?? 0
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(dropped >= 1)
    }
}
