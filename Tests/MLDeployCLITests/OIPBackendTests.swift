import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The OIP backend (`oip+http://…`) against a real Seldon MLServer from PyPI on loopback, and
/// against `mldeploy serve`'s own `/v2`, driven through the CLI as a user types it.
// One at a time: each starts a Python server whose start alone takes a core for seconds.
@Suite("OIP backend: Seldon MLServer and mldeploy serve as targets", .serialized)
struct OIPBackendTests {
    /// The venv with `mlserver`, onnxruntime and pandas that `scripts/bootstrap.sh` makes.
    static let mlserver = ProcessInfo.processInfo.environment["MLDEPLOY_MLSERVER"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv-mlserver/bin/mlserver").path

    /// Starts `mlserver start` on a repository in `directory`; returns it, its HTTP port, and the
    /// `--target` arguments that publish to it (`oip+http://…?repository=DIR`).
    static func startMLServer(_ directory: URL) async throws -> (ChildProcess, Int, [String]) {
        try #require(FileManager.default.isExecutableFile(atPath: Self.mlserver), "no MLServer at \(Self.mlserver): run scripts/bootstrap.sh (or set MLDEPLOY_MLSERVER)")
        let repository = directory.appendingPathComponent("repository")
        try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
        let (http, grpc, metrics) = (try freePort(), try freePort(), try freePort())
        let settings = #"{"http_port": \#(http), "grpc_port": \#(grpc), "metrics_port": \#(metrics), "load_models_at_startup": false, "parallel_workers": 0, "host": "127.0.0.1"}"#
        try settings.write(to: repository.appendingPathComponent("settings.json"), atomically: true, encoding: .utf8)
        // Its log goes to a file: MLServer logs every request, and a pipe nobody reads would fill
        // and stop it.
        let log = directory.appendingPathComponent("mlserver.log").path
        let server = try ChildProcess("/bin/sh", ["-c", "exec \"$0\" start \"$1\" >\"$2\" 2>&1", Self.mlserver, repository.path, log], name: "mlserver")
        // 150 s, as Triton's: alone MLServer is ready in about 10 s, but its start imports a few
        // hundred Python modules and under the whole suite's load on two cores it once missed 60 s.
        if try await waitUntilReady(URL(string: "http://127.0.0.1:\(http)/v2/health/ready")!, timeout: .seconds(150)) {
            return (server, http, ["--target", "oip+http://127.0.0.1:\(http)?repository=\(repository.path)"])
        }
        server.stop()
        throw TestFailure("MLServer did not become ready on port \(http) within 150 s; the end of its log:\n\(logTail(log))")
    }

    @Test("deploy-realtime, deploy, consume, list, get and delete on Seldon MLServer through its repository; MLServer itself serves what was published", .timeLimit(.minutes(4)))
    func seldonMLServer() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        let (server, port, target) = try await Self.startMLServer(cli.directory)
        defer { server.stop() }
        let repository = cli.directory.appendingPathComponent("repository").path
        cli.environment["MLDEPLOY_RUNTIME_ISOLATION"] = "none"
        try cli.write("lin.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [1, 2, 3, 4], intercept: 0.5)))
        try cli.write("scale.py", "y = x * 2\ntotal = sum(v)\ndoubled = [e * 2 for e in v]\n")

        let realtime = try await cli.run(target + ["deploy-realtime", "lin", "--version", "1", "--model", "lin.onnx"])
        #expect(realtime.status == 0, "\(realtime.output)\(realtime.error)")
        #expect(FileManager.default.fileExists(atPath: repository + "/lin/1/model-settings.json"))
        let python = try await cli.run(target + ["deploy", "pyscale", "--version", "1", "--code", "scale.py", "--input", "x=numeric", "--input", "v=vector", "--output", "y=numeric", "--output", "total=numeric", "--output", "doubled=vector"])
        #expect(python.status == 0, "\(python.output)\(python.error)")
        let again = try await cli.run(target + ["deploy", "pyscale", "--version", "1", "--code", "scale.py"])
        #expect(again.status != 0 && again.error.contains("already exists"), "\(again.output)\(again.error)")

        let scored = try await cli.run(target + ["--format", "json", "consume", "lin", "--version", "1", #"inputData={"a": [1, 1], "b": [0, 1], "c": [0, 1], "d": [0, 1]}"#])
        #expect(scored.status == 0 && scored.output.contains("1.5") && scored.output.contains("10.5"), "\(scored.output)\(scored.error)")
        let called = try await cli.run(target + ["consume", "pyscale", "x=21", "v=[1,2,3]"])
        #expect(called.status == 0 && called.output.contains("42") && called.output.contains("[2,4,6]"), "\(called.output)\(called.error)")
        let listed = try await cli.run(target + ["list"])
        #expect(listed.status == 0 && listed.output.contains("lin") && listed.output.contains("pyscale"), "\(listed.output)\(listed.error)")
        let got = try await cli.run(target + ["get", "pyscale", "--version", "1"])
        #expect(got.status == 0 && got.output.contains("x: numeric") && got.output.contains("doubled: vector"), "\(got.output)\(got.error)")

        // A plain OIP request to MLServer itself: it serves what the backend published.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v2/models/lin/infer")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}]}"#.utf8)
        let (data, _) = try await URLSession.shared.data(for: request)
        let answer = try JSONValue(parsing: Array(data))
        #expect(answer["outputs"]?.arrayValue?.first?["data"] == [10.5], "\(answer)")

        let deleted = try await cli.run(target + ["delete", "pyscale", "--version", "1"])
        #expect(deleted.status == 0, "\(deleted.error)")
        #expect(!FileManager.default.fileExists(atPath: repository + "/pyscale"))
        let after = try await cli.run(target + ["list"])
        #expect(!after.output.contains("pyscale"), "\(after.output)")
        let missing = try await cli.run(target + ["get", "pyscale"])
        #expect(missing.status != 0 && missing.error.contains("not-found"), "\(missing.error)")

        // Bad input: an unknown option names the known ones; a model that is not ONNX writes nothing.
        let unknown = try await cli.run(["--target", "oip+http://127.0.0.1:\(port)?repositry=/x", "list"])
        #expect(unknown.status != 0 && unknown.error.contains("'repositry'") && unknown.error.contains("repository, models"), "\(unknown.error)")
        try cli.write("junk.onnx", "not a model")
        let junk = try await cli.run(target + ["deploy-realtime", "junk", "--version", "1", "--model", "junk.onnx"])
        #expect(junk.status != 0 && !FileManager.default.fileExists(atPath: repository + "/junk"), "\(junk.error)")
        if let report = try await stoppedServerReport(URL(string: "http://127.0.0.1:\(port)/v2/health/live")!, name: "mlserver", log: cli.directory.appendingPathComponent("mlserver.log").path) {
            Issue.record(Comment(rawValue: report))
        }
    }

    @Test("the conformance suite (Python flavor) passes against Seldon MLServer through the OIP backend", .timeLimit(.minutes(4)))
    func conformance() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let (server, _, target) = try await Self.startMLServer(cli.directory)
        defer { server.stop() }
        let run = try await cli.run(target + ["conformance", "--flavor", "python"])
        #expect(run.status == 0 && run.output.contains("29 of 29 checks passed"), "\(run.output)\(run.error)")
    }

    @Test("mldeploy serve's /v2 as an OIP target: list (the models option), get and consume a realtime and a Python service", .timeLimit(.minutes(3)))
    func mldeployServeAsTarget() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Oip-Pass-1"
        environment["MLDEPLOY_RUNTIME_ISOLATION"] = "none"
        let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent("data").path], name: "mldeploy serve", environment: environment)
        defer { server.stop() }
        let line = try await server.waitForLine { $0.contains("listening on http://127.0.0.1:") }
        let address = try #require(line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
        cli.environment["MLDEPLOY_USERNAME"] = "admin"
        cli.environment["MLDEPLOY_PASSWORD"] = "Oip-Pass-1"
        try cli.write("lin.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [1, 2, 3, 4], intercept: 0.5)))
        try cli.write("scale.py", "y = x * 2\ntotal = sum(v)\ndoubled = [e * 2 for e in v]\n")
        let ml = ["--target", "mlserver+http://\(address)"]
        #expect(try await cli.run(ml + ["deploy-realtime", "lin", "--version", "1", "--model", "lin.onnx"]).status == 0)
        #expect(try await cli.run(ml + ["deploy", "pyscale", "--version", "1", "--code", "scale.py", "--input", "x=numeric", "--input", "v=vector", "--output", "y=numeric", "--output", "total=numeric", "--output", "doubled=vector"]).status == 0)

        let oip = ["--target", "oip+http://\(address)?models=lin,pyscale"]
        let listed = try await cli.run(oip + ["list"])
        #expect(listed.status == 0 && listed.output.contains("lin") && listed.output.contains("pyscale"), "\(listed.output)\(listed.error)")
        let got = try await cli.run(oip + ["get", "pyscale"])
        #expect(got.status == 0 && got.output.contains("x: numeric") && got.output.contains("v: vector"), "\(got.output)\(got.error)")
        let called = try await cli.run(oip + ["consume", "pyscale", "x=1.5", "v=[4,5]"])
        #expect(called.status == 0 && called.output.contains("3.0") && called.output.contains("[8,10]"), "\(called.output)\(called.error)")
        let scored = try await cli.run(oip + ["consume", "lin", #"inputData={"a": [1], "b": [1], "c": [1], "d": [1]}"#])
        #expect(scored.status == 0 && scored.output.contains("10.5"), "\(scored.output)\(scored.error)")
        let publish = try await cli.run(oip + ["deploy", "other", "--version", "1", "--code", "scale.py"])
        #expect(publish.status != 0, "publishing without a repository must fail: \(publish.output)")
    }
}
