import Foundation
import MLDeploy
@testable import MLDeployServer
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Bounds on what a request can make the server do before it is authorized, and on parsing.
@Suite("Server bounds: parsing in linear time, authorization before bodies")
struct ServerBoundsTests {
    @Test("the multipart delimiter search finds what a naive search finds, on adversarial and random bytes")
    func delimiterSearch() {
        func naive(_ needle: [UInt8], _ haystack: [UInt8], _ start: Int) -> Int? {
            guard needle.count <= haystack.count else { return nil }
            for index in start...(haystack.count - needle.count) where Array(haystack[index..<index + needle.count]) == needle { return index }
            return nil
        }
        var generator = SystemRandomNumberGenerator()
        let fixed: [(String, String)] = [("aaab", "aaaaaaaab"), ("abab", "abababab"), ("aab", "aaaa"), ("\r\n--x", "body\r\n-\r\n--\r\n--x tail"), ("a", "bbbb"), ("a", "bba")]
        var cases: [([UInt8], [UInt8])] = fixed.map { (Array($0.0.utf8), Array($0.1.utf8)) }
        for _ in 0..<200 {
            let needleLength = Int.random(in: 1...6, using: &generator), haystackLength = Int.random(in: 0...40, using: &generator)
            let needle: [UInt8] = (0..<needleLength).map { _ in UInt8.random(in: 97...98, using: &generator) }
            let haystack: [UInt8] = (0..<haystackLength).map { _ in UInt8.random(in: 97...98, using: &generator) }
            cases.append((needle, haystack))
        }
        for (needle, haystack) in cases {
            for start in [0, 1, 3] where start <= haystack.count {
                let fits = haystack.count >= needle.count && start <= haystack.count - needle.count
                let expected: Int? = fits ? naive(needle, haystack, start) : nil
                let found = MultipartForm.find(needle, in: haystack, from: start)
                #expect(found == expected, "\(String(decoding: needle, as: UTF8.self)) in \(String(decoding: haystack, as: UTF8.self)) from \(start)")
            }
        }
    }

    @Test("a boundary longer than RFC 2046's 70 characters is refused, not searched for")
    func longBoundary() throws {
        let boundary = String(repeating: "a", count: 1000)
        #expect { try MultipartForm(contentType: "multipart/form-data; boundary=\(boundary)", body: Data(repeating: 0x61, count: 10_000)) } throws: { error in
            (error as? MLDeployError)?.code == .invalidArgument && "\(error)".contains("1 to 70")
        }
        let parsed = try MultipartForm(contentType: "multipart/form-data; boundary=b", body: Data("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nbytes\r\n--b--\r\n".utf8))
        #expect(parsed["model"]?.bytes == Data("bytes".utf8))
    }

    @Test("a body declared larger than its route's limit is refused (413) before a byte of it is read, and the connection closed")
    func declaredLength() async throws {
        // The idle timeout is far longer than the test: the server must end the connection itself
        // after refusing (it would otherwise wait for a body the client will never send). The
        // bound below is half of it: under the whole suite's load the in-process server has been
        // seen to take 80 s to answer at all, which says nothing about this fault.
        try await withServer(configure: { $0.idleTimeout = .seconds(600) }) { server in
            let token = try await server.token("carol")
            let port = try #require(server.base.port)
            let head = "POST /services/big/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
            let clock = ContinuousClock(), started = clock.now
            let answer = await RawClient.exchange(port: port, request: head, hangUp: nil) ?? ""
            #expect(answer.hasPrefix("HTTP/1.1 413") && answer.contains("request-too-large") && answer.contains("16777216"), "\(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"), "\(answer.prefix(300))")
            #expect(clock.now - started < .seconds(300), "the server kept the refused connection open")
        }
    }

    /// Set in the child process that runs the timer checks alone.
    static let timersAlone = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_SERVER_TIMERS"] != nil

    /// The idle and body deadlines are timers of an in-process server: in the full parallel run,
    /// other tests' blocking calls hold the test process's few cooperative threads and delayed them
    /// past every bound (the trickle test ran over a minute twice). So they run in a child process
    /// of the same test binary, alone.
    @Test("the server's idle and body deadlines (run alone in a child process)", .enabled(if: !timersAlone), .timeLimit(.minutes(3)))
    func serverTimers() async throws {
        let child = try await runAloneInChildProcess(filter: "ServerBoundsTests/slow(Headers|Body)\\(", environmentKey: "MLDEPLOY_ISOLATED_SERVER_TIMERS")
        #expect(child.status == 0 && child.output.contains("with 2 tests"), "\(child.output)")
    }

    @Test("a client that never finishes its headers is disconnected after the idle timeout", .enabled(if: timersAlone), .timeLimit(.minutes(1)))
    func slowHeaders() async throws {
        try await withServer(configure: { $0.idleTimeout = .seconds(1) }) { server in
            let port = try #require(server.base.port)
            let started = ContinuousClock.now
            let answer = await RawClient.exchange(port: port, request: "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", hangUp: nil)
            let elapsed = ContinuousClock.now - started
            #expect(answer != nil && elapsed < .seconds(10), "the server closed the connection after \(elapsed)")
            #expect(try await call(server.base, "GET", "/status").status == 200)
        }
    }

    @Test("a body trickled a byte at a time is cut off at the body deadline, though each byte resets the idle timeout", .enabled(if: timersAlone), .timeLimit(.minutes(1)))
    func slowBody() async throws {
        try await withServer(configure: {
            $0.idleTimeout = .seconds(120)
            $0.bodyReadTimeout = .seconds(2)
        }) { server in
            let token = try await server.token("carol")
            let port = try #require(server.base.port)
            let head = "POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            let lasted = await RawClient.trickle(port: port, head: head, every: .milliseconds(200), limit: .seconds(20))
            let closedAfter = try #require(lasted, "the server let a trickled body go on for 20 s")
            // Below the trickle's own 20 s (generous: a full parallel run delays the server's timers).
            #expect(closedAfter >= .seconds(2) && closedAfter < .seconds(18), "closed after \(closedAfter)")
            #expect(try await call(server.base, "GET", "/status").status == 200)
        }
    }

    @Test("a Reader's PATCH of a realtime service is refused before its body is read or parsed")
    func authorizeBeforeBody() async throws {
        try await withServer { server in
            let reader = try await server.token("rita")
            var request = URLRequest(url: server.base.appendingPathComponent("realtime-services/absent/1"))
            request.httpMethod = "PATCH"
            request.setValue("multipart/form-data; boundary=" + String(repeating: "a", count: 1000), forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer " + reader, forHTTPHeaderField: "Authorization")
            request.httpBody = Data(repeating: 0x61, count: 1 << 20)
            let (body, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 403, "\(String(decoding: body, as: UTF8.self))")
            #expect(try await call(server.base, "GET", "/status").status == 200, "the server still answers")
        }
    }

    @Test("a method a path does not take is 405 with Allow; path parameters are percent-decoded; a field of the wrong type is a 400, not ignored")
    func methodsAndFields() async throws {
        try await withServer(python: true) { server in
            let token = try await server.token("carol")
            var request = URLRequest(url: server.base.appendingPathComponent("status"))
            request.httpMethod = "PUT"
            let (body, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 405 && http.value(forHTTPHeaderField: "Allow") == "GET", "\(String(decoding: body, as: UTF8.self))")
            let sessions = try await call(server.base, "PUT", "/sessions/abc", token: token)
            #expect(sessions.status == 405 && sessions.body.contains("DELETE"), "\(sessions.body)")
            #expect(try await call(server.base, "GET", "/no/such/path", token: token).status == 404)

            // `%2D` is `-`: the name is checked (and found) as it spells.
            let publish = #"{"code": "y = x", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(server.base, "POST", "/services/my-svc/1", body: publish, token: token).status == 201)
            let decoded = try await call(server.base, "POST", "/api/my%2Dsvc/1", body: #"{"x": 3}"#, token: token)
            #expect(decoded.status == 200 && decoded.body.contains("\"y\":3"), "\(decoded.body)")

            let wrongType = try await call(server.base, "POST", "/sessions", body: #"{"runtimeType": "Python", "snapshotId": {}}"#, token: token)
            #expect(wrongType.status == 400 && wrongType.body.contains("snapshotId"), "\(wrongType.body)")
            let noBody = try await call(server.base, "POST", "/sessions", token: token)
            #expect(noBody.status == 400, "\(noBody.body)")
        }
    }

    @Test("an upload is written to disk as it arrives and kept as a file mapping, not on the heap; a refused one leaves no file")
    func spooledUploads() async throws {
        // Small sizes: tests run in parallel in one process, and one suite measures its peak memory.
        // The JSON limit is below the upload: an upload route is held to the upload limit.
        try await withServer(configure: {
            $0.maximumUploadSize = 6 << 20
            $0.maximumJSONBodySize = 2 << 20
        }) { server in
            let token = try await server.token("carol")
            let session = try #require(try JSONValue(parsing: try await call(server.base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token).body)["sessionId"]?.stringValue)
            let uploads = URL(fileURLWithPath: server.dataDirectory).appendingPathComponent("uploads")
            let size = 4 << 20
            let stored = try await call(server.base, "POST", "/sessions/\(session)/workspace/big", bytes: Data(repeating: 7, count: size), token: token)
            #expect(stored.status == 200, "\(stored.body)")
            // The object's bytes are a mapping of an unlinked file of the upload directory.
            // (Read to its end: Foundation's String(contentsOfFile:) stops after one page of a /proc file.)
            let maps = String(decoding: try #require(try FileHandle(forReadingAtPath: "/proc/self/maps")?.readToEnd()), as: UTF8.self).split(separator: "\n")
            let mapped = maps.filter { $0.contains(uploads.path) && $0.hasSuffix("(deleted)") }
            #expect(!mapped.isEmpty, "no mapping of a spooled upload in /proc/self/maps")
            #expect(try FileManager.default.contentsOfDirectory(atPath: uploads.path).isEmpty, "spool files are unlinked once mapped")
            let back = try await call(server.base, "GET", "/sessions/\(session)/workspace/big", token: token)
            #expect(back.status == 200 && back.body.utf8.count == size)
            // Past the limit (no declared length: chunked), the upload is cut off and its file removed.
            var request = URLRequest(url: URL(string: server.base.absoluteString + "/sessions/\(session)/workspace/huge")!)
            request.httpMethod = "POST"
            request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization")
            request.httpBodyStream = InputStream(data: Data(count: 8 << 20))
            let (body, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 413, "\(String(decoding: body, as: UTF8.self))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: uploads.path).isEmpty)
        }
    }
}
