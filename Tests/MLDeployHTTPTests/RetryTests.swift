import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployHTTP
import Synchronization
import Testing

/// Counts the attempts that pass through the chain (user middlewares run once per attempt).
final class AttemptCounter: HTTPClientMiddleware {
    let attempts = Mutex<[Int]>([])

    var count: Int { self.attempts.withLock { $0.count } }

    func intercept(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
    ) async throws -> HTTPResponse {
        self.attempts.withLock { $0.append(context.attempt) }
        return try await next(request, context)
    }
}

@Suite("Retry middleware")
struct RetryTests {
    func hits(_ server: FaultServer, _ client: HTTPClient, _ key: String) async throws -> Int {
        try await client.send(try HTTPRequest(.get, server.url("/hits/\(key)"))).json["hits"]?.intValue ?? -1
    }

    @Test("retries 503, 503, then succeeds")
    func statusSequence() async throws {
        try await FaultServer.with { server throws in
            let counter = AttemptCounter()
            try await withHTTPClient(testConfiguration(), middlewares: [counter]) { client throws in
                let key = UUID().uuidString
                let response = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(key)?codes=503,503,200")))
                #expect(response.status == 200)
                #expect(try response.json["hit"] == 3)
                #expect(counter.attempts.withLock { $0 } == [1, 2, 3])
            }
        }
    }

    @Test("honours Retry-After in seconds and as an HTTP date")
    func retryAfter() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let clock = ContinuousClock()
                var started = clock.now
                let seconds = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=503,200&retry_after=1")))
                #expect(seconds.status == 200)
                #expect(clock.now - started >= .seconds(1))

                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "GMT")
                formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
                let date = formatter.string(from: Date().addingTimeInterval(2)).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                started = clock.now
                let dated = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=429,200&retry_after=\(date)")))
                #expect(dated.status == 200)
                #expect(clock.now - started >= .milliseconds(900))
            }
        }
    }

    @Test("an invalid Retry-After falls back to backoff instead of failing")
    func invalidRetryAfter() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let response = try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=503,200&retry_after=soon")))
                #expect(response.status == 200)
            }
        }
    }

    @Test("parses Retry-After values, and refuses malformed ones with a typed error")
    func parse() throws {
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(try RetryAfter.parse("120") == .seconds(120))
        #expect(try RetryAfter.parse(" 0 ") == .zero)
        #expect(try RetryAfter.parse("Sun, 06 Nov 1994 08:49:47 GMT", now: now) == .seconds(10))
        #expect(try RetryAfter.parse("Sunday, 06-Nov-94 08:49:47 GMT", now: now) == .seconds(10))
        #expect(try RetryAfter.parse("Sun Nov  6 08:49:47 1994", now: now) == .seconds(10))
        #expect(try RetryAfter.parse("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero, "a past date means now")
        for bad in ["-1", "1.5", "", "soon", "99999999999999999999999", "Mon, 32 Foo 1994 25:61:61 GMT"] {
            #expect { try RetryAfter.parse(bad, now: now) } throws: { ($0 as? MLDeployError)?.code == .invalidResponse }
        }
    }

    @Test("does not replay a non-idempotent POST unless it declares itself safe")
    func idempotency() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let key = UUID().uuidString
                let post = try HTTPRequest(.post, server.url("/sequence/\(key)?codes=503,200"), body: .string("{}"))
                #expect(try await client.send(post).status == 503)
                #expect(try await self.hits(server, client, key) == 1)

                let safeKey = UUID().uuidString
                var safe = try HTTPRequest(.post, server.url("/sequence/\(safeKey)?codes=503,200"), body: .string("{}"))
                safe.options.idempotent = true
                #expect(try await client.send(safe).status == 200)
                #expect(try await self.hits(server, client, safeKey) == 2)
            }
        }
    }

    @Test("stops at the attempt cap and returns the last response")
    func attemptCap() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.retry.controlPlane.maximumAttempts = 3
            try await withHTTPClient(configuration) { client throws in
                let key = UUID().uuidString
                #expect(try await client.send(try HTTPRequest(.get, server.url("/sequence/\(key)?codes=503"))).status == 503)
                #expect(try await self.hits(server, client, key) == 3)
            }
        }
    }

    @Test("stops when the next wait would exceed the time budget")
    func timeBudget() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.retry.controlPlane.maximumAttempts = 10
            configuration.retry.controlPlane.maximumTotalTime = .seconds(1)
            try await withHTTPClient(configuration) { client throws in
                let key = UUID().uuidString
                let clock = ContinuousClock()
                let started = clock.now
                #expect(try await client.send(try HTTPRequest(.get, server.url("/sequence/\(key)?codes=503&retry_after=30"))).status == 503)
                #expect(clock.now - started < .seconds(20), "it did not wait out the 30 s Retry-After")
                #expect(try await self.hits(server, client, key) == 1)
            }
        }
    }

    @Test("consume calls are not retried on 504, control-plane calls are")
    func separatePolicies() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                var consume = try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=504,200"))
                consume.options.kind = .consume
                #expect(try await client.send(consume).status == 504)
                #expect(try await client.send(try HTTPRequest(.get, server.url("/sequence/\(UUID())?codes=504,200"))).status == 200)
            }
        }
    }

    @Test("retries a connection reset before the response for GET, not for POST")
    func resets() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let getKey = UUID().uuidString
                #expect(try await client.send(try HTTPRequest(.get, server.url("/reset/\(getKey)?times=2"))).status == 200)
                #expect(try await self.hits(server, client, getKey) == 3)
            }
            // A fresh client, so the POST goes over a new connection: libcurl itself re-sends a request
            // once when a *reused* keep-alive connection dies before any response byte (docs/http-and-middleware.md).
            try await withHTTPClient(testConfiguration()) { client throws in
                let postKey = UUID().uuidString
                await #expect { try await client.send(try HTTPRequest(.post, server.url("/reset/\(postKey)?times=1"), body: .string("x"))) } throws: {
                    ($0 as? MLDeployError)?.code == .transportFailure
                }
                #expect(try await self.hits(server, client, postKey) == 1, "the POST reached the server once and was not replayed")
            }
        }
    }

    @Test("retries a connection that was never made, for any method")
    func neverSent() async throws {
        let counter = AttemptCounter()
        var configuration = testConfiguration()
        configuration.retry.controlPlane.maximumAttempts = 3
        let port = try freePort()
        try await withHTTPClient(configuration, middlewares: [counter]) { client throws in
            await #expect { try await client.send(try HTTPRequest(.post, "http://127.0.0.1:\(port)/", body: .string("x"))) } throws: {
                ($0 as? MLDeployError)?.code == .unreachable
            }
            #expect(counter.count == 3)
        }
    }

    @Test("never replays a streamed body")
    func streamedBody() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let key = UUID().uuidString
                let source = AsyncStream<[UInt8]> { continuation in
                    continuation.yield(Array("streamed".utf8))
                    continuation.finish()
                }
                var request = try HTTPRequest(.put, server.url("/sequence/\(key)?codes=503,200"), body: .stream(source))
                request.options.idempotent = true
                #expect(try await client.send(request).status == 503)
                #expect(try await self.hits(server, client, key) == 1)
            }
        }
    }

    @Test("can be turned off")
    func disabled() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.retry = .disabled
            try await withHTTPClient(configuration) { client throws in
                let key = UUID().uuidString
                #expect(try await client.send(try HTTPRequest(.get, server.url("/sequence/\(key)?codes=503,200"))).status == 503)
                #expect(try await self.hits(server, client, key) == 1)
            }
        }
    }

    @Test("backoff grows exponentially to its cap and is fully jittered")
    func backoff() {
        let policy = RetryPolicy(maximumAttempts: 10, initialBackoff: .milliseconds(100), maximumBackoff: .seconds(1), multiplier: 2)
        #expect(policy.backoffCeiling(forRetry: 1) == .milliseconds(100))
        #expect(policy.backoffCeiling(forRetry: 3) == .milliseconds(400))
        #expect(policy.backoffCeiling(forRetry: 8) == .seconds(1))
        var generator = SystemRandomNumberGenerator()
        let samples = (0..<200).map { _ in policy.backoff(forRetry: 3, using: &generator) }
        #expect(samples.allSatisfy { $0 >= .zero && $0 <= .milliseconds(400) })
        #expect(Set(samples).count > 100, "waits are spread out, not synchronized")
        #expect(RetryPolicy.disabled.maximumAttempts == 1)
    }
}
