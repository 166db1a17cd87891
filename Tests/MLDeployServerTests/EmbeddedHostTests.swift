import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MLDeploy
import MLDeployTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The example host application (`examples/embedded-host`): a Hummingbird server with routes of its
/// own that mounts MLDeploy under `/ml` and runs it in its `ServiceGroup`.
@Suite("Embedded in a host application", .serialized)
struct EmbeddedHostTests {
    /// The example host built beside the test binary.
    static var executable: String {
        URL(fileURLWithPath: CLI.executable).deletingLastPathComponent().appendingPathComponent("mldeploy-example-host").path
    }

    /// Starts the example host on a port of its choosing; returns it and its base URL.
    static func startHost(data: URL) async throws -> (host: ChildProcess, base: String) {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Host-Pass-1"
        let host = try ChildProcess(Self.executable, ["0", data.path], name: "example host", environment: environment)
        let line = try await host.waitForLine { $0.contains("listening on http://127.0.0.1:") }
        let base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
        return (host, base)
    }

    @Test("the host serves its own routes and MLDeploy under /ml, its middleware around both; the Python SDK works against the prefix", .timeLimit(.minutes(3)))
    func mounted() async throws {
        let data = try temporaryDirectory("embedded-host")
        defer { try? FileManager.default.removeItem(at: data) }
        let (host, base) = try await Self.startHost(data: data)
        defer { host.stop() }
        let root = try #require(URL(string: base)), ml = try #require(URL(string: base + "/ml"))

        let hello = try await call(root, "GET", "/hello")
        #expect(hello.status == 200 && hello.body.contains("hello from the platform"))
        // The host's middleware marks MLDeploy's answers too.
        var request = URLRequest(url: ml.appendingPathComponent("status"))
        request.timeoutInterval = 60
        let (_, statusResponse) = try await URLSession.shared.data(for: request)
        let status = try #require(statusResponse as? HTTPURLResponse)
        #expect(status.statusCode == 200 && status.value(forHTTPHeaderField: "X-Platform") == "example-host")
        // Nothing of MLDeploy's answers outside the prefix.
        #expect(try await call(root, "GET", "/status").status == 404)
        #expect(try await call(root, "POST", "/login", body: #"{"username": "admin", "password": "Host-Pass-1"}"#).status == 404)
        #expect(try await call(ml, "GET", "/v2/health/ready").status == 200)

        // Sign-in and route access work as under `mldeploy serve`.
        #expect(try await call(ml, "GET", "/services").status == 401)
        let login = try await call(ml, "POST", "/login", body: #"{"username": "admin", "password": "Host-Pass-1"}"#)
        let token = try #require(try JSONValue(parsing: login.body)["access_token"]?.stringValue, "\(login.body)")
        let publish = #"{"code": "y = x + 1", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
        #expect(try await call(ml, "POST", "/services/inc/1", body: publish, token: token).status == 201)
        let answer = try await call(ml, "POST", "/api/inc/1", body: #"{"x": 41}"#, token: token)
        #expect(answer.status == 200 && answer.body.contains("42"), "\(answer.body)")
        // Documents that name the server's URL name the prefixed one.
        let openAPI = try JSONValue(parsing: try await call(ml, "GET", "/api/inc/1/openapi.json", token: token).body)
        #expect(openAPI["servers"]?.arrayValue?.first?["url"]?.stringValue == base + "/ml", "\(openAPI["servers"] ?? .null)")
        let infer = try await call(ml, "POST", "/v2/models/inc/versions/1/infer", body: #"{"inputs": [{"name": "x", "datatype": "INT64", "shape": [1], "data": [1]}]}"#, token: token)
        #expect(infer.status == 200 && infer.body.contains("\"y\""), "\(infer.body)")

        // The unmodified Python SDK, given the prefixed address.
        let (sdkStatus, transcript) = try await PythonSDKInteropTests.runScript("sdk_interop.py", [base + "/ml", "admin", "Host-Pass-1"])
        #expect(sdkStatus == 0 && transcript.contains("SDK INTEROP OK"), "\(transcript)")
    }

    @Test("SIGTERM lets a call in flight finish, then stops the Python workers and the host", .timeLimit(.minutes(2)))
    func gracefulShutdown() async throws {
        let data = try temporaryDirectory("embedded-host-stop")
        defer { try? FileManager.default.removeItem(at: data) }
        let (host, base) = try await Self.startHost(data: data)
        defer { host.stop() }
        let ml = try #require(URL(string: base + "/ml"))
        let hostPID = try #require(Processes.children(of: host.process.processIdentifier).first { Processes.command(of: $0).hasPrefix("mldeploy-exampl") })

        let login = try await call(ml, "POST", "/login", body: #"{"username": "admin", "password": "Host-Pass-1"}"#)
        let token = try #require(try JSONValue(parsing: login.body)["access_token"]?.stringValue, "\(login.body)")
        let publish = #"{"code": "import time\ntime.sleep(2)\ny = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
        #expect(try await call(ml, "POST", "/services/slow/1", body: publish, token: token).status == 201)
        let inFlight = Task { try await call(ml, "POST", "/api/slow/1", body: #"{"x": 21}"#, token: token) }
        // Once the call runs in a worker, the host is told to stop.
        var workers: [Int32] = []
        for _ in 0..<200 where workers.isEmpty {
            let pool = try JSONValue(parsing: try await call(ml, "GET", "/services/slow/1/pool", token: token).body).arrayValue?.first
            if pool?["ActiveShellCount"]?.intValue == 1 { workers = Processes.children(of: hostPID).filter { Processes.command(of: $0) != "mldeploy-exampl" } }
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(!workers.isEmpty, "no Python worker under the host")
        kill(hostPID, SIGTERM)
        let answer = try await inFlight.value
        #expect(answer.status == 200 && answer.body.contains("42"), "the call in flight finished: \(answer.body)")
        #expect(try await Processes.eventually(timeout: .seconds(20)) { Processes.isGone(hostPID) }, "the host did not stop on SIGTERM")
        let started = workers
        #expect(try await Processes.eventually { started.allSatisfy(Processes.isGone) }, "Python workers outlived the host: \(started)")
    }
}
