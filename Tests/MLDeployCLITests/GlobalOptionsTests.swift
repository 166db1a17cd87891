import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

/// A real `mldeploy serve` for CLI tests, started in the CLI's directory and stopped at the end.
struct TestServer {
    let process: ChildProcess
    /// `http://127.0.0.1:PORT`.
    let base: String
    let dataDirectory: URL

    /// `mldeploy serve --port 0` with `admin` / `Pass123!`.
    init(_ cli: CLI, name: String = "server", arguments: [String] = [], environment: [String: String] = [:]) async throws {
        self.dataDirectory = cli.directory.appendingPathComponent(name)
        self.process = try ChildProcess(
            CLI.executable, ["serve", "--port", "0", "--data-dir", self.dataDirectory.path] + arguments, name: "mldeploy serve",
            environment: cli.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "Pass123!"].merging(environment) { _, new in new }) { _, new in new }
        )
        let line = try await self.process.waitForLine { $0.contains("mldeploy serve: listening on") }
        self.base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
    }

    /// The `mlserver+http://…` target.
    var target: String { "mlserver+" + self.base }

    /// How many refresh tokens the server holds (`refresh-tokens.json`).
    func refreshTokenCount() throws -> Int {
        let path = self.dataDirectory.appendingPathComponent("refresh-tokens.json")
        guard FileManager.default.fileExists(atPath: path.path) else { return 0 }
        let data = try Data(contentsOf: path)
        return try JSONValue(parsing: data)["tokens"]?.objectValue?.count ?? 0
    }

    func stop() { self.process.stop() }
}

extension CLI {
    /// Runs `command` twice, once with `global` before it and once after it; both results.
    func inBothPositions(_ global: [String], _ command: (String) -> [String], input: String? = nil, environment: [String: String] = [:]) async throws -> [(position: String, result: Result)] {
        [
            ("before", try await self.run(global + command("before"), input: input, environment: environment)),
            ("after", try await self.run(command("after") + global, input: input, environment: environment)),
        ]
    }
}

/// The command-line contract: global options (`--target`, `--config`, `--profile`, `--format`)
/// before or after every command, `--version` only alone, and `serve`'s `--target`.
@Suite("mldeploy global options and version", .serialized)
struct GlobalOptionsTests {
    /// Parses one line of JSON output, recording what was printed when it is not JSON.
    func json(_ result: CLI.Result, _ what: String) -> JSONValue? {
        let value = try? JSONValue(parsing: Data(result.output.utf8))
        #expect(result.status == 0 && value != nil, "\(what): status \(result.status)\n\(result.output)\n\(result.error)")
        return value
    }

    @Test("every command on a file target takes --target and --format before and after it")
    func fileTargetCommands() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try cli.write("c.py", "y = x * 2\nprint('doubling', x)\n")
        try cli.write("r.jsonl", "{\"x\": 1}\n{\"x\": 2}\n")
        try cli.write("m.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)))
        try cli.write("m3.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)))
        let global = ["--target", "file:./s", "--format", "json"]
        let deploy = { (name: String) in ["deploy", name, "--version", "1", "--code", "c.py", "--input", "x=numeric", "--output", "y=numeric"] }

        for (position, result) in try await cli.inBothPositions(global, deploy) {
            #expect(self.json(result, "deploy \(position)")?["version"] == "1")
        }
        let listed = try await cli.run(global + ["list"])
        #expect(self.json(listed, "list")?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted() == ["after", "before"], "deployed in both positions")

        for (position, result) in try await cli.inBothPositions(global, { ["redeploy", $0, "--version", "1", "--description", "d-\($0)"] }) {
            #expect(self.json(result, "redeploy \(position)")?["description"] == .string("d-\(position)"))
        }
        for (position, result) in try await cli.inBothPositions(global, { ["deploy-realtime", "rt-\($0)", "--version", "1", "--model", "m.onnx"] }) {
            #expect(self.json(result, "deploy-realtime \(position)")?["version"] == "1")
        }
        for (position, result) in try await cli.inBothPositions(global, { ["redeploy-realtime", "rt-\($0)", "--version", "1", "--model", "m3.onnx", "--description", "three"] }) {
            #expect(self.json(result, "redeploy-realtime \(position)")?["description"] == "three")
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["list"] }) {
            #expect(self.json(result, "list \(position)")?.arrayValue?.count == 4)
        }
        for (position, result) in try await cli.inBothPositions(global, { ["get", $0] }) {
            #expect(self.json(result, "get \(position)")?["name"] == .string(position))
        }
        for (position, result) in try await cli.inBothPositions(global, { ["swagger", $0] }) {
            #expect(self.json(result, "swagger \(position)")?["swagger"] == "2.0")
        }
        for (position, result) in try await cli.inBothPositions(global, { ["consume", $0, "x=21"] }) {
            #expect(self.json(result, "consume \(position)")?["outputParameters"]?["y"] == .double(42))
        }
        for (position, result) in try await cli.inBothPositions(global, { ["consume", "rt-\($0)", #"inputData={"x": [2]}"#] }) {
            #expect(self.json(result, "realtime consume \(position)")?["outputParameters"]?["outputData"] != nil)
        }
        for (position, result) in try await cli.inBothPositions(global, { ["batch", $0, "--records", "r.jsonl", "--wait"] }) {
            #expect(self.json(result, "batch \(position)")?["state"] == "Complete")
        }
        for (position, result) in try await cli.inBothPositions(global, { ["batch", "list", $0] }) {
            #expect(self.json(result, "batch list \(position)")?.arrayValue != nil)
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["verify"] }) {
            #expect(self.json(result, "verify \(position)")?["clean"] == true)
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["config", "show"] }) {
            #expect(self.json(result, "config show \(position)")?["settings"]?["target"]?["source"] == "the command line")
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["doctor"] }) {
            #expect(self.json(result, "doctor \(position)")?.arrayValue?.contains { $0["check"] == "target" && $0["status"] == "ok" } == true)
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["backends"] }) {
            #expect(self.json(result, "backends \(position)")?["target"]?["backend"] == "filesystem")
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["demo"] }) {
            #expect(self.json(result, "demo \(position)")?["deleted"] == true)
        }
        for (position, result) in try await cli.inBothPositions(global, { ["delete", $0, "--version", "1"] }) {
            #expect(self.json(result, "delete \(position)")?["deleted"]?["version"] == "1")
        }
        for (position, result) in try await cli.inBothPositions(["--format", "json"], { _ in ["version"] }) {
            #expect(self.json(result, "version \(position)")?["version"]?.stringValue?.isEmpty == false)
        }
        // The remaining two of the four global options, through a profile in a config file.
        try cli.write("other.yaml", "profiles:\n  files:\n    target: file:./s\n")
        for (position, result) in try await cli.inBothPositions(["--config", "other.yaml", "--profile", "files", "--format", "json"], { _ in ["list"] }) {
            #expect(self.json(result, "list with --config/--profile \(position)")?.arrayValue?.count == 2, "the realtime services are left")
        }
    }

    @Test("users, login, logout, batch status/results/cancel and serve take the global options before and after")
    func serverCommands() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        // serve in both positions: --format json turns its announcement into a JSON line.
        for arguments in [["--format", "json", "--target", "memory:", "serve"], ["serve", "--format", "json", "--target", "memory:"]] {
            let data = cli.directory.appendingPathComponent("serve-\(arguments[0])").path
            let server = try ChildProcess(CLI.executable, arguments + ["--port", "0", "--data-dir", data], name: "serve", environment: cli.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "p"]) { _, new in new })
            defer { server.stop() }
            let line = try await server.waitForLine { $0.contains("\"listening\"") }
            let event = try JSONValue(parsing: Data(line.utf8))
            #expect(event["backend"]?.stringValue?.contains("memory") == true, "\(line)")
        }

        let server = try await TestServer(cli)
        defer { server.stop() }
        let auth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Pass123!"]
        let global = ["--target", server.target, "--format", "json"]
        for (position, result) in try await cli.inBothPositions(global, { _ in ["login"] }, environment: auth) {
            #expect(self.json(result, "login \(position)")?["user"] == "admin")
        }
        try cli.write("c.py", "import time\ntime.sleep(0.2)\ny = x\n")
        try cli.write("r.jsonl", (0..<6).map { "{\"x\": \($0)}" }.joined(separator: "\n"))
        #expect(try await cli.run(global + ["deploy", "slow", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"]).status == 0)
        let started = self.json(try await cli.run(global + ["batch", "slow", "--records", "r.jsonl", "--parallel", "1"]), "batch start")
        let execution = try #require(started?["executionId"]?.stringValue)
        for (position, result) in try await cli.inBothPositions(global, { _ in ["batch", "status", "slow", execution] }) {
            #expect(self.json(result, "batch status \(position)")?["executionId"] == .string(execution))
        }
        for (position, result) in try await cli.inBothPositions(global, { _ in ["batch", "results", "slow", execution] }) {
            #expect(self.json(result, "batch results \(position)")?["results"]?.arrayValue != nil)
        }
        let cancelled = try await cli.run(["--target", server.target, "--format", "json", "batch", "cancel", "slow", execution])
        #expect(self.json(cancelled, "batch cancel before")?["cancelled"] == .string(execution))
        let second = self.json(try await cli.run(global + ["batch", "slow", "--records", "r.jsonl", "--parallel", "1"]), "batch start")?["executionId"]?.stringValue ?? ""
        #expect(self.json(try await cli.run(["batch", "cancel", "slow", second] + global), "batch cancel after")?["cancelled"] == .string(second))
        for (position, result) in try await cli.inBothPositions(global, { _ in ["logout"] }) {
            #expect(self.json(result, "logout \(position)")?["loggedOut"] == .string(server.target))
        }

        // users: the data directory through a config file (users take --config, --profile and --format).
        try cli.write("server.yaml", "profiles:\n  admin:\n    server:\n      data_dir: \(server.dataDirectory.path)\n")
        let usersGlobal = ["--config", "server.yaml", "--profile", "admin", "--format", "json"]
        for (position, result) in try await cli.inBothPositions(usersGlobal, { ["users", "add", "u-\($0)", "--role", "Reader"] }) {
            #expect(self.json(result, "users add \(position)")?["added"] == .string("u-\(position)"))
        }
        for (position, result) in try await cli.inBothPositions(usersGlobal, { ["users", "set-role", "u-\($0)", "Contributor"] }) {
            #expect(self.json(result, "users set-role \(position)")?["role"] == "Contributor")
        }
        for (position, result) in try await cli.inBothPositions(usersGlobal, { _ in ["users", "list"] }) {
            #expect(self.json(result, "users list \(position)")?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["admin", "u-after", "u-before"])
        }
        for (position, result) in try await cli.inBothPositions(usersGlobal, { ["users", "remove", "u-\($0)"] }) {
            #expect(self.json(result, "users remove \(position)")?["removed"] == .string("u-\(position)"))
        }
    }

    @Test("--version is the tool's version only alone; a command's --version is the service version")
    func versionFlag() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let alone = try await cli.run(["--version"])
        #expect(alone.status == 0 && alone.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(alone.output)")
        #expect(try await cli.run(["version"]).output == alone.output)
        try cli.write("add.py", "total = x * 2\n")
        // Once this printed the tool's version and exited 0 without deploying anything.
        let deploy = try await cli.run(["--target", "file:./s", "deploy", "Add", "--version", "1", "--code", "add.py", "--input", "x=numeric", "--output", "total=numeric"])
        #expect(deploy.status == 0 && deploy.output.contains("Add 1"), "\(deploy.output) \(deploy.error)")
        #expect(try await cli.run(["--target", "file:./s", "list"]).output.contains("Add"), "it really deployed")
        try cli.write("m.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)))
        let realtime = try await cli.run(["--target", "file:./s", "deploy-realtime", "rt", "--version", "1", "--model", "m.onnx"])
        #expect(realtime.status == 0 && realtime.output.contains("rt 1"), "\(realtime.output) \(realtime.error)")
        for arguments in [["--version", "list"], ["--target", "file:./s", "--version"], ["--target", "file:./s"], ["--target"], ["--target", "file:./a", "list", "--target", "file:./b"]] {
            let refused = try await cli.run(arguments)
            #expect(refused.status == 64 && refused.output.isEmpty && refused.error.contains("Error:"), "\(arguments): \(refused.status) \(refused.output) \(refused.error)")
        }
        let same = try await cli.run(["--target", "file:./s", "list", "--target", "file:./s"])
        #expect(same.status == 0, "the same value twice is fine: \(same.error)")
        let versionWithTarget = try await cli.run(["--target", "file:./s", "version"])
        #expect(versionWithTarget.status == 64 && versionWithTarget.error.contains("--target"), "an accepted option is never ignored")
        let usersWithTarget = try await cli.run(["--target", "file:./s", "users", "list", "--data-dir", "x"])
        #expect(usersWithTarget.status == 64 && usersWithTarget.error.contains("--data-dir"))
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("x").path))
    }

    @Test("serve: --target names the backend served; unknown targets and busy ports stop it before it creates anything")
    func serveTarget() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let fm = FileManager.default
        // --target memory: serves the in-memory store: no file store appears in the data directory.
        let memory = try await TestServer(cli, name: "memory-data", arguments: ["--target", "memory:"])
        try cli.write("c.py", "y = x\n")
        let deployed = try await cli.run(["--target", memory.target, "deploy", "s", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"],
                                   environment: ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Pass123!"])
        #expect(deployed.status == 0, "\(deployed.error)")
        #expect(!fm.fileExists(atPath: memory.dataDirectory.appendingPathComponent("services").path), "a memory: server keeps no file store")
        memory.stop()

        // A client's target (MLDEPLOY_TARGET, a profile's target) never makes a server front it.
        let filed = try await TestServer(cli, name: "file-data", environment: ["MLDEPLOY_TARGET": "mlserver+http://127.0.0.1:9"])
        #expect(fm.fileExists(atPath: filed.dataDirectory.appendingPathComponent("services").path))
        filed.stop()

        let unknown = try await cli.run(["serve", "--target", "nosuch://x", "--port", "0", "--data-dir", "d1"])
        #expect(unknown.status == 1 && unknown.error.contains("error[unknown-backend]") && unknown.error.contains("nosuch"), "\(unknown.error)")
        #expect(!fm.fileExists(atPath: cli.directory.appendingPathComponent("d1").path), "nothing created")
        let both = try await cli.run(["serve", "--target", "memory:", "--backend", "file:./x", "--port", "0", "--data-dir", "d2"])
        #expect(both.status == 64 && both.error.contains("--backend"), "\(both.error)")
        let agree = try await cli.run(["serve", "--target", "nosuch:", "--backend", "nosuch:", "--port", "0", "--data-dir", "d2"])
        #expect(agree.status == 1 && agree.error.contains("unknown-backend"), "the same backend twice is one backend: \(agree.error)")

        // A busy port: say which, how to pick another, and create nothing.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(listener, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let busy = try await cli.run(["serve", "--port", String(port), "--data-dir", "d3"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(busy.status == 1 && busy.error.contains("error[address-in-use]") && busy.error.contains("Port \(port)") && busy.error.contains("--port"), "\(busy.error)")
        #expect(!busy.error.contains("bind(descriptor"), "\(busy.error)")
        #expect(!fm.fileExists(atPath: cli.directory.appendingPathComponent("d3").path), "no data directory, no admin, no store")
    }
}
