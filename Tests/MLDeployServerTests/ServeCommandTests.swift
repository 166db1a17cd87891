import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

/// `mldeploy serve`'s settings from flags, the environment and the config file, through the built
/// executable.
@Suite("mldeploy serve configuration", .serialized)
struct ServeCommandTests {
    /// Runs `mldeploy serve` until it prints where it listens (or exits); returns that line and the
    /// exit status if it exited. The blocking reads run off the cooperative pool.
    func serve(_ arguments: [String], environment: [String: String] = [:], directory: URL) async throws -> (output: String, status: Int32?) {
        try await offThePool { try Self.blockingServe(arguments, environment: environment, directory: directory) }
    }

    static func blockingServe(_ arguments: [String], environment: [String: String], directory: URL) throws -> (output: String, status: Int32?) {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: PythonSDKInteropTests.executable)
        process.arguments = ["serve"] + arguments
        process.currentDirectoryURL = directory
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        merged["MLDEPLOY_ADMIN_PASSWORD"] = "Pass123!"
        process.environment = merged.merging(environment) { _, new in new }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var seen = ""
        while !seen.contains("mldeploy serve: listening on") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {  // the process exited
                process.waitUntilExit()
                return (seen, process.terminationStatus)
            }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        process.terminate()
        process.waitUntilExit()
        return (seen, nil)
    }

    func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-serve-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("host, port and data directory come from the config file, the environment beats it, and flags beat both")
    func precedence() async throws {
        let directory = try self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "server:\n  port: 0\n  data_dir: from-file\n".write(to: directory.appendingPathComponent("mldeploy.yaml"), atomically: true, encoding: .utf8)
        let fromFile = try await self.serve([], directory: directory)
        #expect(fromFile.output.contains("data from-file)"), "\(fromFile.output)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("from-file/users.json").path))
        let fromEnvironment = try await self.serve([], environment: ["MLDEPLOY_DATA_DIR": "from-env"], directory: directory)
        #expect(fromEnvironment.output.contains("data from-env)"), "\(fromEnvironment.output)")
        let fromFlag = try await self.serve(["--data-dir", "from-flag"], environment: ["MLDEPLOY_DATA_DIR": "from-env"], directory: directory)
        #expect(fromFlag.output.contains("data from-flag)"), "\(fromFlag.output)")
    }

    @Test("a bad setting is a clear error and a non-zero exit", arguments: [
        (["--config", "missing.yaml"], [String: String](), "missing.yaml"),
        ([], ["MLDEPLOY_PORT": "http"], "server.port"),
        (["--profile", "nope"], [:], "nope"),
        ([], ["MLDEPLOY_SERVER_EXECUTOR": "loops"], "server.executor"),
    ])
    func invalid(_ arguments: [String], _ environment: [String: String], _ named: String) async throws {
        let directory = try self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "server:\n  port: 0\n".write(to: directory.appendingPathComponent("mldeploy.yaml"), atomically: true, encoding: .utf8)
        let result = try await self.serve(arguments, environment: environment, directory: directory)
        #expect(result.status == 1 && result.output.contains("invalid-configuration") && result.output.contains(named), "\(result.output)")
    }

    @Test("a host that cannot confine Python workers stops the server before it creates a user, unless isolation is none")
    func confinement() async throws {
        let directory = try self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let refused = try await self.serve(["--port", "0", "--data-dir", "data"], environment: ["MLDEPLOY_RUNTIME_USER": "no-such-mldeploy-user"], directory: directory)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("cannot be confined") && refused.output.contains("runtime.isolation: none"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/users.json").path))
        let unconfined = try await self.serve(
            ["--port", "0", "--data-dir", "data"], environment: ["MLDEPLOY_RUNTIME_USER": "no-such-mldeploy-user", "MLDEPLOY_RUNTIME_ISOLATION": "none"], directory: directory
        )
        #expect(unconfined.status == nil && unconfined.output.contains("listening on"), "\(unconfined.output)")
    }

    @Test("server.executor: event_loops (MLDEPLOY_SERVER_EXECUTOR) runs the server's tasks on its event loops, says so when listening, and serves a Python and a realtime service; the default says pool", .timeLimit(.minutes(3)))
    func executor() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Pass123!"
        environment["MLDEPLOY_RUNTIME_ISOLATION"] = "none"
        let pooled = try ChildProcess(PythonSDKInteropTests.executable, ["--format", "json", "serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent("pooled").path], name: "mldeploy serve", environment: environment)
        let pooledLine = try await pooled.waitForLine { $0.contains(#""event":"listening""#) }
        pooled.stop()
        #expect(pooledLine.contains(#""executor":"pool""#), "\(pooledLine)")

        environment["MLDEPLOY_SERVER_EXECUTOR"] = "event_loops"
        let server = try ChildProcess(PythonSDKInteropTests.executable, ["serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent("data").path], name: "mldeploy serve", environment: environment)
        defer { server.stop() }
        let ready = try await server.waitForLine { $0.contains("mldeploy serve: listening on") }
        #expect(ready.contains("tasks on the event loops"), "\(ready)")
        let port = try #require(ready.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "no port in \(ready)")
        cli.environment["MLDEPLOY_USERNAME"] = "admin"
        cli.environment["MLDEPLOY_PASSWORD"] = "Pass123!"
        let target = ["--target", "mlserver+http://127.0.0.1:\(port)"]
        try cli.write("lin.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [1, 2, 3, 4], intercept: 0.5)))
        try cli.write("double.py", "y = x * 2\n")
        #expect(try await cli.run(target + ["deploy-realtime", "lin", "--version", "1", "--model", "lin.onnx"]).status == 0)
        #expect(try await cli.run(target + ["deploy", "double", "--version", "1", "--code", "double.py", "--input", "x=numeric", "--output", "y=numeric"]).status == 0)
        let scored = try await cli.run(target + ["--format", "json", "consume", "lin", "--version", "1", #"inputData={"a": [1, 1], "b": [0, 1], "c": [0, 1], "d": [0, 1]}"#])
        #expect(scored.status == 0 && scored.output.contains("1.5") && scored.output.contains("10.5"), "\(scored.output)\(scored.error)")
        // Several calls at once: each answered, none held behind another on a loop.
        let runner = cli
        try await withThrowingTaskGroup(of: (Int, CLI.Result).self) { group in
            for x in 1...6 { group.addTask { (x, try await runner.run(target + ["consume", "double", "x=\(x)"])) } }
            for try await (x, called) in group {
                #expect(called.status == 0 && called.output.contains("\(x * 2)"), "\(called.output)\(called.error)")
            }
        }
    }

    @Test("the server's limits and quotas come from server.* settings: MLDEPLOY_SERVER_MAX_SESSIONS=1 allows one session per user")
    func limits() async throws {
        let directory = try self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "server:\n  max_upload_mb: 1\n  user_quota_mb: 1\n".write(to: directory.appendingPathComponent("mldeploy.yaml"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Pass123!"
        environment["MLDEPLOY_SERVER_MAX_SESSIONS"] = "1"
        let server = try ChildProcess(
            PythonSDKInteropTests.executable, ["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--config", directory.appendingPathComponent("mldeploy.yaml").path],
            name: "mldeploy serve", environment: environment
        )
        defer { server.stop() }
        // The server picks its port: one found free beforehand could be taken by a parallel test.
        let ready = try await server.waitForLine { $0.contains("listening on") }
        let port = try #require(ready.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "no port in \(ready)")
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let login = try await call(base, "POST", "/login", body: #"{"username": "admin", "password": "Pass123!"}"#)
        let token = try #require(try JSONValue(parsing: login.body)["access_token"]?.stringValue)
        let first = try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token)
        let session = try #require(try JSONValue(parsing: first.body)["sessionId"]?.stringValue)
        let second = try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token)
        #expect(second.status == 429 && second.body.contains("quota-exceeded"), "\(second.body)")
        // server.max_upload_mb: 1 — a 2 MiB upload is refused for its size.
        let upload = try await call(base, "POST", "/sessions/\(session)/workspace/big", bytes: Data(count: 2 << 20), token: token)
        #expect(upload.status == 413 && upload.body.contains("request-too-large") && upload.body.contains("1048576"), "\(upload.body)")
        // server.user_quota_mb: 1 — two 600 KiB objects do not both fit.
        #expect(try await call(base, "POST", "/sessions/\(session)/workspace/a", bytes: Data(count: 600 << 10), token: token).status == 200)
        let over = try await call(base, "POST", "/sessions/\(session)/workspace/b", bytes: Data(count: 600 << 10), token: token)
        #expect(over.status == 413 && over.body.contains("quota-exceeded"), "\(over.body)")
    }
}
