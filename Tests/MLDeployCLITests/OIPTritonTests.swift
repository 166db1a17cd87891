import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The OIP backend publishing to a real NVIDIA Triton Inference Server on loopback (the CPU build
/// PyPI's `nvidia-pytriton` wheel ships, with Triton's Python backend), driven through the CLI.
@Suite("OIP backend: NVIDIA Triton as a target", .serialized)
struct OIPTritonTests {
    /// Where the pytriton wheel keeps Triton (`bin/tritonserver`, `backends/python`, the Python
    /// backend's stubs): `.venv-triton`, which `scripts/bootstrap.sh` makes, or `MLDEPLOY_TRITON`.
    static var tritonHome: URL? {
        if let given = ProcessInfo.processInfo.environment["MLDEPLOY_TRITON"] { return URL(fileURLWithPath: given) }
        return Self.sitePackages(".venv-triton")?.appendingPathComponent("pytriton/tritonserver")
    }

    /// A venv's `site-packages` in the checkout.
    static func sitePackages(_ venv: String) -> URL? {
        let lib = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(venv).appendingPathComponent("lib")
        let python = (try? FileManager.default.contentsOfDirectory(atPath: lib.path))?.first { $0.hasPrefix("python3") }
        return python.map { lib.appendingPathComponent($0).appendingPathComponent("site-packages") }
    }

    /// Starts `tritonserver` (explicit model control, HTTP only) with a backend directory holding
    /// the Python backend and the stub built for this machine's libpython; returns it, its port
    /// and the `--target` arguments that publish to it. Triton's Python backend ignores
    /// `PYTHONPATH`, so the target's `python_path` option names `.venv-triton`'s site-packages,
    /// where bootstrap put numpy 1.x (this Triton's backend is built against numpy 1: numpy 2
    /// garbles its tensors), pandas and onnxruntime.
    static func startTriton(_ directory: URL) async throws -> (ChildProcess, Int, [String]) {
        let home = try #require(Self.tritonHome, "no Triton: run scripts/bootstrap.sh (or set MLDEPLOY_TRITON)")
        let server = home.appendingPathComponent("bin/tritonserver").path
        try #require(FileManager.default.isExecutableFile(atPath: server), "no Triton at \(server): run scripts/bootstrap.sh (or set MLDEPLOY_TRITON)")
        let packages = try #require(Self.sitePackages(".venv-triton"), "no .venv-triton: run scripts/bootstrap.sh")
        let manager = FileManager.default
        let backends = directory.appendingPathComponent("backends/python")
        try manager.createDirectory(at: backends, withIntermediateDirectories: true)
        for file in ["libtriton_python.so", "triton_python_backend_utils.py"] {
            try manager.copyItem(at: home.appendingPathComponent("backends/python/\(file)"), to: backends.appendingPathComponent(file))
        }
        // The stub embeds the system's libpython: take the one built for the version installed.
        let stubs = home.appendingPathComponent("python_backend_stubs")
        let version = try #require(try manager.contentsOfDirectory(atPath: stubs.path).first { version in
            ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"].contains { manager.fileExists(atPath: "\($0)/libpython\(version).so.1.0") }
        }, "no libpython of a version the Triton Python backend stubs are built for")
        try manager.copyItem(at: stubs.appendingPathComponent("\(version)/triton_python_backend_stub"), to: backends.appendingPathComponent("triton_python_backend_stub"))
        let repository = directory.appendingPathComponent("models")
        try manager.createDirectory(at: repository, withIntermediateDirectories: true)
        let port = try freePort()
        let log = directory.appendingPathComponent("triton.log").path
        var environment = ProcessInfo.processInfo.environment
        environment["LD_LIBRARY_PATH"] = home.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("nvidia_pytriton.libs").path
        let child = try ChildProcess(
            // At a low CPU priority, with the Python stubs it starts: every load restarts a stub
            // per version (the conformance suite's 20 concurrent deploys start a few hundred), and
            // at normal priority they starved the Python workers of suites running beside it. Not
            // the lowest: at nice 19 under the whole suite's load Triton had not logged a line
            // after 60 s (a nice-19 process gets about 1/70 of a busy core).
            "/bin/sh", ["-c", #"exec nice -n 10 "$0" "$@" >"$LOG" 2>&1"#, server, "--model-repository=\(repository.path)", "--model-control-mode=explicit",
                        "--backend-directory=\(directory.appendingPathComponent("backends").path)", "--http-address=127.0.0.1", "--http-port=\(port)",
                        "--allow-grpc=false", "--allow-metrics=false", "--allow-gpu-metrics=false"],
            name: "tritonserver", environment: environment.merging(["LOG": log]) { _, new in new }
        )
        if try await waitUntilReady(URL(string: "http://127.0.0.1:\(port)/v2/health/ready")!, timeout: .seconds(150)) {
            return (child, port, ["--target", "oip+http://127.0.0.1:\(port)?python_path=\(packages.path)"])
        }
        child.stop()
        throw TestFailure("Triton did not become ready on port \(port) within 150 s; the end of its log:\n\(logTail(log))")
    }

    /// A plain OIP inference request to Triton itself.
    static func infer(_ port: Int, _ path: String, _ body: String) async throws -> (Int, JSONValue?) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONValue(parsing: Array(data)))
    }

    @Test("deploy-realtime, deploy, consume, list, get, redeploy and delete on Triton through its load API; Triton itself serves what was published", .timeLimit(.minutes(6)))
    func triton() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        let (server, port, target) = try await Self.startTriton(cli.directory)
        defer { server.stop() }
        cli.environment["MLDEPLOY_RUNTIME_ISOLATION"] = "none"
        try cli.write("lin.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [1, 2, 3, 4], intercept: 0.5)))
        try cli.write("scale.py", "y = x * 2\ntotal = sum(v)\ndoubled = [e * 2 for e in v]\nprint('scaled')\n")
        try cli.write("frame.py", "import pandas as pd\nout = pd.DataFrame({'n': frame['n'] * 10, 's': frame['s']})\n")

        let realtime = try await cli.run(target + ["deploy-realtime", "lin", "--version", "1.0", "--model", "lin.onnx", "--description", "a line"])
        #expect(realtime.status == 0, "\(realtime.output)\(realtime.error)")
        let python = try await cli.run(target + ["deploy", "pyscale", "--version", "1", "--code", "scale.py", "--input", "x=numeric", "--input", "v=vector", "--output", "y=numeric", "--output", "total=numeric", "--output", "doubled=vector"])
        #expect(python.status == 0, "\(python.output)\(python.error)")
        let again = try await cli.run(target + ["deploy", "pyscale", "--version", "1", "--code", "scale.py"])
        #expect(again.status != 0 && again.error.contains("already exists"), "\(again.output)\(again.error)")
        let frame = try await cli.run(target + ["deploy", "framed", "--version", "1", "--code", "frame.py", "--input", "frame=data.frame", "--output", "out=data.frame"])
        #expect(frame.status == 0, "\(frame.output)\(frame.error)")

        let scored = try await cli.run(target + ["--format", "json", "consume", "lin", "--version", "1.0", #"inputData={"a": [1, 1], "b": [0, 1], "c": [0, 1], "d": [0, 1]}"#])
        #expect(scored.status == 0 && scored.output.contains("1.5") && scored.output.contains("10.5"), "\(scored.output)\(scored.error)")
        let called = try await cli.run(target + ["--format", "json", "consume", "pyscale", "x=21", "v=[1,2,3]"])
        #expect(called.status == 0 && called.output.contains("42") && called.output.contains("[2,4,6]") && called.output.contains("scaled"), "\(called.output)\(called.error)")
        let framed = try await cli.run(target + ["--format", "json", "consume", "framed", #"frame={"n": [1, 2], "s": ["a", "b"]}"#])
        #expect(framed.status == 0 && framed.output.contains("10") && framed.output.contains("20") && framed.output.contains("\"b\""), "\(framed.output)\(framed.error)")
        let listed = try await cli.run(target + ["list"])
        #expect(listed.status == 0 && listed.output.contains("lin") && listed.output.contains("pyscale") && listed.output.contains("framed"), "\(listed.output)\(listed.error)")
        let got = try await cli.run(target + ["get", "lin", "--version", "1.0"])
        #expect(got.status == 0 && got.output.contains("a line"), "\(got.output)\(got.error)")

        // Triton itself serves them: the ONNX model with its own tensors, the service with JSON elements.
        let (status, answer) = try await Self.infer(port, "/v2/models/lin/infer", #"{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}]}"#)
        #expect(status == 200 && answer?["outputs"]?.arrayValue?.first?["data"] == [10.5], "\(String(describing: answer))")
        let (plainStatus, plain) = try await Self.infer(
            port, "/v2/models/pyscale/infer", #"{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["2"]}, {"name": "v", "shape": [1], "datatype": "BYTES", "data": ["[1]"]}]}"#
        )
        #expect(plainStatus == 200 && plain?["outputs"]?.arrayValue?.first?["data"] == ["4.0"], "\(String(describing: plain))")

        // A second version, an update of the first: both are served, each as published.
        try cli.write("triple.py", "y = x * 3\ntotal = 0\ndoubled = []\n")
        #expect(try await cli.run(target + ["deploy", "pyscale", "--version", "2", "--code", "triple.py", "--input", "x=numeric", "--input", "v=vector", "--output", "y=numeric", "--output", "total=numeric", "--output", "doubled=vector"]).status == 0)
        let first = try await cli.run(target + ["consume", "pyscale", "--version", "1", "x=1", "v=[1]"])
        #expect(first.status == 0 && first.output.contains("2.0"), "\(first.output)\(first.error)")
        let latest = try await cli.run(target + ["consume", "pyscale", "x=1", "v=[1]"])
        #expect(latest.status == 0 && latest.output.contains("3.0"), "\(latest.output)\(latest.error)")
        let described = try await cli.run(target + ["redeploy", "pyscale", "--version", "1", "--description", "doubles"])
        #expect(described.status == 0, "\(described.output)\(described.error)")
        let kept = try await cli.run(target + ["consume", "pyscale", "--version", "1", "x=5", "v=[1]"])
        #expect(kept.status == 0 && kept.output.contains("10.0"), "an update that sets only the description keeps the code: \(kept.output)\(kept.error)")

        // Code that raises is the service's failure, with its traceback; the server keeps serving.
        try cli.write("raise.py", "raise ValueError('no good')\n")
        #expect(try await cli.run(target + ["deploy", "bad", "--version", "1", "--code", "raise.py", "--input", "x=numeric", "--output", "y=numeric"]).status == 0)
        let raised = try await cli.run(target + ["consume", "bad", "x=1"])
        #expect(raised.status != 0 && (raised.output + raised.error).contains("no good"), "\(raised.output)\(raised.error)")

        // A version Triton cannot load (its init code raises) is refused, and the model is served as it was.
        try cli.write("init.py", "raise RuntimeError('init failed')\n")
        let refused = try await cli.run(target + ["deploy", "pyscale", "--version", "3", "--code", "scale.py", "--init", "init.py", "--input", "x=numeric", "--input", "v=vector", "--output", "y=numeric", "--output", "total=numeric", "--output", "doubled=vector"])
        #expect(refused.status != 0 && refused.error.contains("init failed"), "\(refused.output)\(refused.error)")
        let stillServed = try await cli.run(target + ["consume", "pyscale", "--version", "2", "x=1", "v=[1]"])
        #expect(stillServed.status == 0 && stillServed.output.contains("3.0"), "\(stillServed.output)\(stillServed.error)")

        // Delete one version, then the other: the model leaves Triton.
        #expect(try await cli.run(target + ["delete", "pyscale", "--version", "1"]).status == 0)
        let versions = try await cli.run(target + ["list", "pyscale"])
        #expect(versions.status == 0 && !versions.output.contains(" 1 ") && versions.output.contains("2"), "\(versions.output)\(versions.error)")
        #expect(try await cli.run(target + ["delete", "pyscale", "--version", "2"]).status == 0)
        let (goneStatus, _) = try await Self.infer(port, "/v2/models/pyscale/infer", #"{"inputs": []}"#)
        #expect(goneStatus >= 400)
        let missing = try await cli.run(target + ["get", "pyscale"])
        #expect(missing.status != 0 && missing.error.contains("not-found"), "\(missing.error)")

        // Bad input: an unknown option names the known ones.
        let unknown = try await cli.run(["--target", "oip+http://127.0.0.1:\(port)?pythonpath=/x", "list"])
        #expect(unknown.status != 0 && unknown.error.contains("'pythonpath'") && unknown.error.contains("python_path"), "\(unknown.error)")
        if let report = try await stoppedServerReport(URL(string: "http://127.0.0.1:\(port)/v2/health/live")!, name: "tritonserver", log: cli.directory.appendingPathComponent("triton.log").path) {
            Issue.record(Comment(rawValue: report))
        }
    }

    /// Off in the default run (`MLDEPLOY_TRITON_CONFORMANCE=1` turns it on): its 20 concurrent
    /// deploys restart a Triton Python stub per version on every load — a few hundred stub starts —
    /// and even at the lowest CPU priority that load made other suites' Python calls overrun their
    /// 30 s queue bound on this 2-core machine. It passed 29/29 in CI runs and by hand.
    @Test(
        "the conformance suite (Python flavor) passes against Triton through the OIP backend",
        .enabled(if: ProcessInfo.processInfo.environment["MLDEPLOY_TRITON_CONFORMANCE"] == "1"), .timeLimit(.minutes(8))
    )
    func conformance() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let (server, _, target) = try await Self.startTriton(cli.directory)
        defer { server.stop() }
        let run = try await cli.run(target + ["conformance", "--flavor", "python"])
        #expect(run.status == 0 && run.output.contains("29 of 29 checks passed"), "\(run.output)\(run.error)")
    }
}
