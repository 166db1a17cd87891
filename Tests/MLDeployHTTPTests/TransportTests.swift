import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployCrypto
import MLDeployHTTP
import Testing

@Suite("HTTP transport on libcurl")
struct TransportTests {
    @Test("sends method, headers and body, and reads status, headers and body")
    func roundTrip() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let request = try HTTPRequest(.post, server.url("/echo?x=1"), headers: ["Content-Type": "application/json", "X-Custom": "a b"], body: .string(#"{"a":1}"#))
                let response = try await client.send(request)
                #expect(response.status == 200)
                #expect(response.headers["content-type"] == "application/json")
                let echo = try response.json
                #expect(echo["method"] == "POST")
                #expect(echo["query"]?["x"] == "1")
                #expect(echo["headers"]?["x-custom"] == "a b")
                #expect(echo["headers"]?["user-agent"]?.stringValue?.hasPrefix("mldeploy/") == true)
                #expect(echo["headers"]?["x-request-id"]?.stringValue?.contains("-") == true)
                #expect(echo["headers"]?["expect"] == nil, "no 100-continue wait")
                #expect(echo["body"] == #"{"a":1}"#)
                #expect(response.version == .http1)
            }
        }
    }

    @Test("every method, with and without a body", arguments: [
        (HTTPMethod.get, false), (.delete, false), (.delete, true), (.put, true), (.patch, true), (.post, false), (.options, false),
    ])
    func methods(method: HTTPMethod, withBody: Bool) async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let body: HTTPBody? = withBody ? .string("payload") : nil
                let echo = try await client.send(try HTTPRequest(method, server.url("/echo"), body: body)).json
                #expect(echo["method"] == .string(method.rawValue))
                #expect(echo["body_length"] == .integer(withBody ? 7 : 0))
            }
        }
    }

    @Test("one pooled handle carries requests of every shape one after another: nothing of one leaks into the next")
    func handleReuse() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.loopThreads = 1  // one loop, one caller: every request below runs on the same easy handle
            configuration.maximumResponseSize = 100_000
            try await withHTTPClient(configuration) { client throws in
                func echo(_ method: HTTPMethod, headers: HTTPHeaders = [:], body: HTTPBody? = nil) async throws -> JSONValue {
                    try await client.send(try HTTPRequest(method, server.url("/echo"), headers: headers, body: body)).json
                }
                let first = try await echo(.get, headers: ["X-A": "1", "X-B": "2"])
                #expect(first["method"] == "GET" && first["headers"]?["x-a"] == "1" && first["headers"]?["x-b"] == "2")

                // Same number of headers, other names and values: rewritten line by line in place.
                let swapped = try await echo(.delete, headers: ["X-C": "4", "X-D": "5"])
                #expect(swapped["method"] == "DELETE" && swapped["headers"]?["x-c"] == "4" && swapped["headers"]?["x-d"] == "5")
                #expect(swapped["headers"]?["x-a"] == nil && swapped["headers"]?["x-b"] == nil)
                #expect(swapped["headers"]?["x-request-id"] != first["headers"]?["x-request-id"], "each request its own id")

                // Fewer headers, another value, a body: the header list is rebuilt, the body sent.
                let post = try await echo(.post, headers: ["X-A": "3"], body: .string("payload"))
                #expect(post["method"] == "POST" && post["body"] == "payload")
                #expect(post["headers"]?["x-a"] == "3" && post["headers"]?["x-b"] == nil)

                // HEAD, then a plain GET: the GET has its body again and no leftover of the POST.
                let head = try await client.send(try HTTPRequest(.head, server.url("/status/200")))
                #expect(head.status == 200 && head.bytes.isEmpty)
                let plain = try await echo(.get)
                #expect(plain["method"] == "GET" && plain["body_length"] == .integer(0))
                #expect(plain["headers"]?["x-a"] == nil && plain["headers"]?["content-length"] == nil)

                // Another URL on the same handle, and a response over the size limit, then a normal one.
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/bytes?n=200000"))) } throws: {
                    ($0 as? MLDeployError)?.code == .responseTooLarge
                }
                let again = try await echo(.get, headers: ["X-A": "1", "X-B": "2"])
                #expect(again["method"] == "GET" && again["path"] == "/echo" && again["headers"]?["x-b"] == "2")
                var streamed = try await client.stream(try HTTPRequest(.get, server.url("/bytes?n=200000")))
                var received = 0
                for try await chunk in streamed.body { received += chunk.count }
                #expect(received == 200_000, "a streamed response has no buffered-size limit left over")
                streamed = try await client.stream(try HTTPRequest(.get, server.url("/bytes?n=10")))
                #expect(streamed.status == 200)
            }
        }
    }

    @Test("HEAD reads headers and no body")
    func head() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let response = try await client.send(try HTTPRequest(.head, server.url("/status/200")))
                #expect(response.status == 200 && response.bytes.isEmpty)
                #expect(response.headers["Content-Length"] != nil)
            }
        }
    }

    @Test("keeps default headers and the user agent unless the request sets them")
    func defaultHeaders() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.defaultHeaders = ["X-Team": "ml", "Accept": "application/json"]
            configuration.userAgent = "custom-agent/1"
            try await withHTTPClient(configuration) { client throws in
                let echo = try await client.send(try HTTPRequest(.get, server.url("/echo"), headers: ["Accept": "text/plain"])).json
                #expect(echo["headers"]?["x-team"] == "ml")
                #expect(echo["headers"]?["accept"] == "text/plain")
                #expect(echo["headers"]?["user-agent"] == "custom-agent/1")
            }
        }
    }

    @Test("decompresses gzip when asked to, and passes it through when not")
    func decompression() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let json = try await client.send(try HTTPRequest(.get, server.url("/gzip"))).json
                #expect(json["compressed"] == true)
                #expect(json["accept_encoding"]?.stringValue?.contains("gzip") == true)
            }
            var raw = testConfiguration()
            raw.decompression = false
            try await withHTTPClient(raw) { client throws in
                let response = try await client.send(try HTTPRequest(.get, server.url("/gzip")))
                #expect(response.bytes.starts(with: [0x1F, 0x8B]), "gzip magic")
            }
        }
    }

    @Test("follows redirects up to the limit, or returns them when redirects are off")
    func redirects() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let followed = try await client.send(try HTTPRequest(.get, server.url("/redirect?to=/echo")))
                #expect(followed.status == 200)
                #expect(try followed.json["path"] == "/echo")
            }
            var short = testConfiguration()
            short.redirects = .follow(maximum: 1)
            try await withHTTPClient(short) { client throws in
                let twoHops = server.url("/redirect?to=/redirect%3Fto%3D/echo")
                await #expect { try await client.send(try HTTPRequest(.get, twoHops)) } throws: {
                    ($0 as? MLDeployError)?.code == .transportFailure && "\($0)".contains("more than 1")
                }
            }
            var off = testConfiguration()
            off.redirects = .disallow
            try await withHTTPClient(off) { client throws in
                let response = try await client.send(try HTTPRequest(.get, server.url("/redirect?to=/echo&status=307")))
                #expect(response.status == 307 && response.headers["Location"] == "/echo")
            }
        }
    }

    @Test("refuses a body over the size limit with a typed error, then keeps working")
    func sizeLimit() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.maximumResponseSize = 100_000
            try await withHTTPClient(configuration) { client throws in
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/bytes?n=100001"))) } throws: {
                    ($0 as? MLDeployError)?.code == .responseTooLarge
                }
                let exact = try await client.send(try HTTPRequest(.get, server.url("/bytes?n=100000")))
                #expect(exact.bytes.count == 100_000)
            }
        }
    }

    @Test("refuses malformed URLs, other schemes and header injection before sending", arguments: [
        "not a url", "ftp://127.0.0.1/file", "file:///etc/passwd", "http://", "mailto:a@b.c", "//no-scheme/path",
    ])
    func badURLs(url: String) {
        #expect { try HTTPRequest(.get, url) } throws: { ($0 as? MLDeployError)?.code == .invalidRequest }
    }

    @Test("refuses CR, LF or NUL in header names and values", arguments: [
        ("X-Evil", "a\r\nInjected: yes"), ("X-Evil", "a\nb"), ("X-Evil", "nul\u{0}"), ("Bad Name", "v"), ("Bad:Name", "v"), ("", "v"), ("X\r\nY", "v"),
    ])
    func headerInjection(name: String, value: String) async throws {
        try await withHTTPClient(testConfiguration()) { client throws in
            var headers = HTTPHeaders()
            headers.add(name, value)
            let request = try HTTPRequest(.get, "http://127.0.0.1:9/never", headers: headers)
            await #expect { try await client.send(request) } throws: { ($0 as? MLDeployError)?.code == .invalidRequest }
        }
    }

    @Test("a refused connection is unreachable, naming the target, and nothing was sent")
    func refused() async throws {
        var configuration = testConfiguration()
        configuration.retry = .disabled
        let port = try freePort()
        try await withHTTPClient(configuration) { client throws in
            await #expect { try await client.send(try HTTPRequest(.get, "http://127.0.0.1:\(port)/x")) } throws: { error in
                guard let error = error as? MLDeployError, error.code == .unreachable else { return false }
                return error.message.contains("127.0.0.1:\(port)") && (error.underlying as? HTTPTransportFailure)?.requestWasSent == false
            }
        }
    }

    /// Set in the child process that runs the timeout check alone.
    static let timeoutsAlone = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_TIMEOUT_CHECK"] != nil

    /// The timeout check bounds wall-clock time (a 300 ms timeout must end the call well before the
    /// server's 8 s): at the start of the full parallel run, while suites start servers and Python
    /// processes on the two cores, the caller's resumption was delayed past 6 s twice. So it runs in
    /// a child process of the same test binary, alone.
    @Test("the whole-request timeouts (run alone in a child process)", .enabled(if: !timeoutsAlone), .timeLimit(.minutes(3)))
    func timeoutsInChild() async throws {
        let child = try await runAloneInChildProcess(filter: "TransportTests/timeouts\\(", environmentKey: "MLDEPLOY_ISOLATED_TIMEOUT_CHECK")
        #expect(child.status == 0 && child.output.contains("with 1 test"), "\(child.output)")
    }

    @Test("the whole-request timeout applies per kind, and a per-call override wins", .enabled(if: timeoutsAlone))
    func timeouts() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.retry = .disabled
            configuration.timeout = .init(connect: .seconds(5), controlPlane: .milliseconds(300), consume: .seconds(20))
            try await withHTTPClient(configuration) { client throws in
                let clock = ContinuousClock()
                let slow = try HTTPRequest(.get, server.url("/sleep?seconds=8"))
                let started = clock.now
                await #expect { try await client.send(slow) } throws: { ($0 as? MLDeployError)?.code == .timeout }
                let elapsed = clock.now - started
                #expect(elapsed < .seconds(6), "the 300 ms control-plane timeout applied, not the server's 8 s")

                var consume = slow
                consume.options.kind = .consume
                #expect(try await client.send(consume).status == 200, "consume calls have their own, longer timeout")

                var unlimited = slow
                unlimited.options.timeout = .none
                #expect(try await client.send(unlimited).status == 200, "an override of none lifts the limit")

                var tight = try HTTPRequest(.get, server.url("/sleep?seconds=8"))
                tight.options.kind = .consume
                tight.options.timeout = .limit(.milliseconds(200))
                await #expect { try await client.send(tight) } throws: { ($0 as? MLDeployError)?.code == .timeout }
            }
        }
    }

    @Test("the connect timeout applies when a server never accepts the connection")
    func connectTimeout() async throws {
        // A listener whose accept queue is full drops further SYNs, so a new connect hangs.
        let (listener, port) = try loopbackSocket(listening: 0)
        defer { close(listener) }
        var address = loopbackAddress(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) } }
            fillers.append(filler)
        }
        try await Task.sleep(for: .milliseconds(100))
        var configuration = testConfiguration()
        configuration.retry = .disabled
        configuration.timeout = .init(connect: .milliseconds(300), controlPlane: .seconds(30), consume: .seconds(30))
        try await withHTTPClient(configuration) { client throws in
            let clock = ContinuousClock()
            let started = clock.now
            await #expect { try await client.send(try HTTPRequest(.get, "http://127.0.0.1:\(port)/")) } throws: { ($0 as? MLDeployError)?.code == .timeout }
            let elapsed = clock.now - started
            // Well under the 30 s control-plane timeout that would apply without the connect
            // timeout (generous: a full parallel run delays the client's loop by seconds).
            #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(15), "took \(elapsed)")
        }
    }

    @Test("cancelling the task aborts the transfer promptly and frees it")
    func cancellation() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let request = try HTTPRequest(.get, server.url("/sleep?seconds=60"))
                let task = Task { try await client.send(request) }
                try await Task.sleep(for: .milliseconds(200))
                let clock = ContinuousClock()
                let started = clock.now
                task.cancel()
                await #expect { try await task.value } throws: { ($0 as? MLDeployError)?.code == .cancelled }
                // Far below the server's 60 s, with room for a loaded machine (a whole parallel test run).
                #expect(clock.now - started < .seconds(20), "cancellation did not wait for the server's 60 s")
                // The client keeps working, and many cancellations leak nothing.
                for _ in 0..<20 {
                    let short = Task { try await client.send(request) }
                    short.cancel()
                    _ = try? await short.value
                }
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
            }
        }
    }

    @Test("a cancelled task never starts its request")
    func cancelledBeforeStart() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let key = UUID().uuidString
                let task = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return try await client.send(try HTTPRequest(.get, server.url("/sequence/\(key)")))
                }
                await #expect(throws: MLDeployError.self) { try await task.value }
                let hits = try await client.send(try HTTPRequest(.get, server.url("/hits/\(key)"))).json["hits"]
                #expect(hits == 0)
            }
        }
    }

    @Test("100 concurrent requests all complete on one loop thread")
    func concurrency() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<100 {
                        group.addTask {
                            let echo = try await client.send(try HTTPRequest(.get, server.url("/echo?i=\(index)"))).json
                            return Int(echo["query"]?["i"]?.stringValue ?? "") ?? -1
                        }
                    }
                    var seen = Set<Int>()
                    for try await index in group { seen.insert(index) }
                    #expect(seen == Set(0..<100))
                }
            }
        }
    }

    @Test("connections per host are capped: requests beyond the cap wait for one to come free", arguments: [2, nil] as [Int?])
    func connectionsPerHost(_ cap: Int?) async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.maximumConnectionsPerHost = cap
            // One network thread: with several, each keeps its share of the cap, and which share a
            // request lands in depends on its task.
            configuration.loopThreads = 1
            try await withHTTPClient(configuration) { client throws in
                let ports = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<8 {
                        group.addTask { try await client.send(try HTTPRequest(.get, server.url("/peer?seconds=0.3"))).json["port"]?.intValue ?? -1 }
                    }
                    return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
                }
                // Each connection has its own client port: a cap of 2 means two ports, no cap one per request.
                #expect(ports.count == (cap ?? 8), "\(ports)")
            }
        }
    }

    @Test("several network threads: concurrent tasks are all answered, one task's requests stay on one loop (one connection), and shutdown cancels what runs on every one")
    func loopThreads() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.loopThreads = 3
            configuration.maximumConnections = 64
            let client = HTTPClient(configuration: configuration)
            // Many tasks at once, several requests each: every one answered.
            let answered = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        var count = 0
                        for _ in 0..<4 where try await client.send(try HTTPRequest(.get, server.url("/peer"))).status == 200 { count += 1 }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(answered == 120)
            // A task's requests one after another stay on its loop, so they reuse one connection
            // (spread over the loops round-robin, they would open one per loop).
            for _ in 0..<6 {
                let ports = try await Task {
                    var ports = Set<Int>()
                    for _ in 0..<4 { ports.insert(try await client.send(try HTTPRequest(.get, server.url("/peer"))).json["port"]?.intValue ?? -1) }
                    return ports
                }.value
                #expect(ports.count == 1 && !ports.contains(-1), "one task's requests used \(ports)")
            }

            let running = (0..<6).map { _ in Task { try await client.send(try HTTPRequest(.get, server.url("/peer?seconds=10"))) } }
            try await Task.sleep(for: .milliseconds(300))
            let clock = ContinuousClock(), started = clock.now
            await client.shutdown()
            for request in running {
                await #expect { try await request.value } throws: { ($0 as? MLDeployError)?.code == .cancelled }
            }
            #expect(clock.now - started < .seconds(5), "shutdown waited for the requests")
        }
    }

    @Test("a shut-down client refuses new requests")
    func shutdown() async throws {
        let client = HTTPClient(configuration: testConfiguration())
        await client.shutdown()
        await #expect { try await client.send(try HTTPRequest(.get, "http://127.0.0.1:9/")) } throws: { ($0 as? MLDeployError)?.code == .cancelled }
    }
}

@Suite("Streaming bodies", .serialized)
struct StreamingTests {
    static let size = 100 * 1024 * 1024

    /// Set in the child process that runs the peak-memory checks alone.
    static let isolated = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_MEMORY_CHECK"] != nil

    /// The memory checks read the process's peak resident size, which in the parallel suite is
    /// raised by whatever other tests hold at that moment (a 100 MiB body held in memory and
    /// another suite's 80 MiB look alike). So they run in a child process of the same test binary,
    /// with nothing beside them, and this test reports their outcome.
    @Test("streams 100 MB each way without holding the body in memory (checked alone in a child process)", .enabled(if: !isolated))
    func memoryChecksAlone() async throws {
        let child = try await runAloneInChildProcess(filter: "StreamingTests/(download|upload)\\(", environmentKey: "MLDEPLOY_ISOLATED_MEMORY_CHECK")
        #expect(child.status == 0 && child.output.contains("with 2 tests"), "\(child.output)")
    }

    /// The process's peak resident memory, in bytes.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    @Test("downloads 100 MB as a stream without holding it in memory", .enabled(if: isolated))
    func download() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.streamBufferSize = 1024 * 1024
            try await withHTTPClient(configuration) { client throws in
                let before = Self.peakResidentBytes()
                let response = try await client.stream(try HTTPRequest(.get, server.url("/bytes?n=\(Self.size)")))
                #expect(response.status == 200 && response.body.length == Self.size)
                var hasher = SHA256()
                var received = 0
                var largestChunk = 0
                for try await chunk in response.body {
                    hasher.update(chunk)
                    received += chunk.count
                    largestChunk = max(largestChunk, chunk.count)
                    if received < 20 * 1024 * 1024 { try await Task.sleep(for: .microseconds(50)) }  // a slow reader, at first
                }
                #expect(received == Self.size)
                let pattern = (0..<(251 * 261)).map { UInt8($0 % 251) }
                var expected = SHA256()
                var remaining = Self.size
                while remaining > 0 {
                    let take = min(remaining, pattern.count)
                    expected.update(Array(pattern[0..<take]))
                    remaining -= take
                }
                let actualDigest = hasher.finalize()
                let expectedDigest = expected.finalize()
                #expect(actualDigest == expectedDigest)
                let growth = Self.peakResidentBytes() - before
                // A body held in memory would add its 100 MiB to the peak; the stream holds a few buffers.
                #expect(growth < 40 * 1024 * 1024, "peak memory grew by \(growth / 1_048_576) MiB for a 100 MiB body")
            }
        }
    }

    @Test("uploads 100 MB from a stream, with and without a known length", .enabled(if: isolated))
    func upload() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let chunk = [UInt8](repeating: 7, count: 1 << 20)
                var expected = SHA256()
                for _ in 0..<100 { expected.update(chunk) }
                let digest = Hex.encode(expected.finalize())
                let before = StreamingTests.peakResidentBytes()
                for length in [Self.size, nil] as [Int?] {
                    let source = AsyncStream<[UInt8]> { continuation in
                        for _ in 0..<100 { continuation.yield(chunk) }
                        continuation.finish()
                    }
                    let request = try HTTPRequest(.put, server.url("/upload"), body: .stream(source, length: length))
                    let result = try await client.send(request).json
                    #expect(result["length"] == .integer(Self.size))
                    #expect(result["sha256"] == .string(digest))
                    #expect(result["chunked"] == .bool(length == nil))
                }
                let growth = StreamingTests.peakResidentBytes() - before
                #expect(growth < 40 * 1024 * 1024, "peak memory grew by \(growth / 1_048_576) MiB")
            }
        }
    }

    @Test("an upload whose source fails ends with the source's error")
    func failingUpload() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                struct SourceBroke: Error {}
                let source = AsyncThrowingStream<[UInt8], any Error> { continuation in
                    continuation.yield([1, 2, 3])
                    continuation.finish(throwing: SourceBroke())
                }
                await #expect(throws: SourceBroke.self) {
                    try await client.send(try HTTPRequest(.post, server.url("/upload"), body: .stream(source)))
                }
                let after = try await client.send(try HTTPRequest(.get, server.url("/echo")))
                #expect(after.status == 200)
            }
        }
    }

    @Test("a streamed body can be read once; dropping it early cancels the transfer")
    func abandon() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                do {
                    let response = try await client.stream(try HTTPRequest(.get, server.url("/bytes?n=\(Self.size)")))
                    var iterator = response.body.makeAsyncIterator()
                    _ = try await iterator.next()
                    var second = response.body.makeAsyncIterator()
                    await #expect(throws: MLDeployError.self) { try await second.next() }
                }
                // The abandoned transfer released its connection: the client goes on working.
                for _ in 0..<5 {
                    #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
                }
            }
        }
    }

    @Test("a connection reset after the headers fails the body's reader")
    func resetDuringBody() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.retry = .disabled
            try await withHTTPClient(configuration) { client throws in
                let response = try await client.stream(try HTTPRequest(.get, server.url("/reset-after-headers")))
                #expect(response.status == 200)
                await #expect { try await response.body.collect(upTo: 10_000) } throws: { ($0 as? MLDeployError)?.code == .transportFailure }
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/reset-after-headers"))) } throws: {
                    ($0 as? MLDeployError)?.code == .transportFailure
                }
            }
        }
    }

    @Test("a slow body arrives whole")
    func slowBody() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                let response = try await client.send(try HTTPRequest(.get, server.url("/slow?chunks=5&delay=0.1")))
                #expect(response.bytes.count == 5 * 1024)
            }
        }
    }
}
