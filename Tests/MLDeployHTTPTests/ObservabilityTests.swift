import Foundation
import Logging
import MLDeploy
import MLDeployHTTP
import MetricsTestKit
import Synchronization
import Testing

/// A log handler that keeps every message and its metadata, for checking what gets logged.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
        self.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
    }

    var text: String { self.lines.withLock { $0.joined(separator: "\n") } }
}

@Suite("Logging, metrics and the middleware order")
struct ObservabilityTests {
    @Test("logs each attempt with request id, method, path, status and duration — never credentials or queries")
    func logging() async throws {
        try await FaultServer.with { server throws in
            let handler = CapturingLogHandler()
            let logger = Logger(label: "test") { _ in handler }
            let client = HTTPClient(configuration: testConfiguration(), logger: logger)
            defer { Task { await client.shutdown() } }
            client.authentication.use(LoginTokenSource(baseURL: URL(string: server.url(""))!, username: "admin", password: "secret"))
            _ = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID().uuidString.lowercased())?codes=503,200&secret=hunter2")))
            await client.shutdown()
            let text = handler.text
            #expect(text.contains("GET http://127.0.0.1:\(server.port)/sequence/"))
            #expect(text.contains("→ 503") && text.contains("→ 200"))
            #expect(text.contains("request-id"))
            #expect(text.contains("attempt: 2") || text.contains("\"attempt\": \"2\"") || text.contains("attempt\": 2"))
            // The path's id is lower-case, so the fault server's tokens (A1, R1) cannot appear by chance.
            for secret in ["secret", "hunter2", "Bearer", "A1", "R1"] {
                #expect(!text.contains(secret), "the log mentions \(secret)")
            }
        }
    }

    @Test("counts requests and times them by method and status")
    func metrics() async throws {
        try await FaultServer.with { server throws in
            let metrics = TestMetrics()
            let client = HTTPClient(configuration: testConfiguration(), metricsFactory: metrics)
            _ = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=503,200")))
            _ = try await client.send(try HTTPRequest(.post, server.url("/echo"), body: .string("x")))
            await client.shutdown()
            #expect(try metrics.expectCounter("mldeploy_http_requests_total", [("method", "GET"), ("status", "503")]).totalValue == 1)
            #expect(try metrics.expectCounter("mldeploy_http_requests_total", [("method", "GET"), ("status", "200")]).totalValue == 1)
            #expect(try metrics.expectCounter("mldeploy_http_requests_total", [("method", "POST"), ("status", "200")]).totalValue == 1)
            #expect(try metrics.expectTimer("mldeploy_http_request_duration_seconds", [("method", "POST"), ("status", "200")]).values.count == 1)
        }
    }

    @Test("user middlewares run per attempt, after authentication, in the order given")
    func order() async throws {
        struct Stamp: HTTPClientMiddleware {
            let name: String
            func intercept(
                _ request: HTTPRequest,
                context: HTTPRequestContext,
                next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
            ) async throws -> HTTPResponse {
                var request = request
                let previous = request.headers["X-Stamps"].map { $0 + "," } ?? ""
                request.headers["X-Stamps"] = previous + "\(self.name)@\(context.attempt)" + (request.headers["Authorization"] == nil ? "" : "+auth")
                return try await next(request, context)
            }
        }
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration(), middlewares: [Stamp(name: "first"), Stamp(name: "second")]) { client throws in
                client.authentication.use(StaticTokenSource("t"))
                let echo = try await client.send(try HTTPRequest(.put, server.url("/sequence/\(UUID())?codes=503,200"))).json
                #expect(try #require(echo["status"]) == 200)
                let final = try await client.send(try HTTPRequest(.get, server.url("/echo"))).json
                #expect(final["headers"]?["x-stamps"] == "first@1+auth,second@1+auth")
            }
        }
    }

    @Test("the configuration describes proxies without their passwords")
    func redaction() {
        let proxy = HTTPClient.Proxy.explicit("http://user:hunter2@proxy:3128", noProxy: ["localhost"])
        #expect(!"\(proxy)".contains("hunter2"))
        #expect("\(proxy)".contains("user"))
        let headers: HTTPHeaders = ["Authorization": "Bearer x", "X-Api-Token": "y", "Accept": "z"]
        #expect("\(headers)" == "Authorization: <redacted>\nX-Api-Token: <redacted>\nAccept: z")
    }
}
