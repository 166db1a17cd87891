import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

@Suite("mldeploy CLI end to end", .serialized)
struct CLITests {
    static let pickledFifty: [UInt8] = [0x80, 0x04, 0x4B, 0x32, 0x2E]

    @Test("a Python service's whole life on a file target: deploy, consume, list, get, swagger, batch, redeploy, delete")
    func fileTarget() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try cli.write("score.py", "total = x * factor + offset\nnote = 'x=%s' % x\n")
        try cli.write("factor.json", "3")
        try cli.write("offset.pkl", bytes: Self.pickledFifty)
        let target = ["--target", "file:./services"]
        let deployed = try await cli.run(["deploy", "scorer", "--version", "1.0", "--code", "score.py", "--input", "x=numeric", "--output", "total=numeric", "--output", "note=str",
                                    "--object", "factor=factor.json", "--object", "offset=offset.pkl", "--description", "Scores"] + target)
        #expect(deployed.status == 0 && deployed.output.contains("scorer 1.0 — Scores"), "\(deployed.error)")

        let consumed = try await cli.run(["consume", "scorer", "x=2"] + target)
        #expect(consumed.status == 0 && consumed.output.contains("total: 56.0") && consumed.output.contains("note: x=2.0"), "\(consumed.output) \(consumed.error)")
        let json = try await cli.run(["consume", "scorer", "--version", "1.0", "-", "--format", "json"] + target, input: #"{"x": 1}"#)
        #expect(try JSONValue(parsing: Data(json.output.utf8))["outputParameters"]?["total"] == .double(53), "\(json.output) \(json.error)")

        let list = try await cli.run(["list"] + target)
        #expect(list.status == 0 && list.output.contains("NAME") && list.output.contains("scorer") && list.output.contains("1.0"))
        let listJSON = try await cli.run(["list", "scorer", "--format", "json"] + target)
        #expect(try JSONValue(parsing: Data(listJSON.output.utf8)).arrayValue?.first?["version"] == "1.0")
        #expect(try await cli.run(["get", "scorer"] + target).output.contains("inputs:  x: numeric"))
        #expect(try await cli.run(["swagger", "scorer"] + target).output.contains("\"swagger\":\"2.0\""))

        try cli.write("records.jsonl", "{\"x\": 1}\n{\"x\": 2}\n\n{\"x\": 3}\n")
        let batch = try await cli.run(["batch", "scorer", "--records", "records.jsonl", "--parallel", "2", "--wait", "--format", "json"] + target)
        let results = try JSONValue(parsing: Data(batch.output.utf8))
        #expect(results["state"] == "Complete" && results["results"]?.arrayValue?.map { $0["outputs"]?["total"]?.doubleValue } == [53, 56, 59], "\(batch.output) \(batch.error)")
        #expect(batch.error.isEmpty, "no progress bar in a pipe: \(batch.error)")
        try cli.write("records.csv", "x\n4\n5\n")
        let started = try await cli.run(["batch", "scorer", "--records", "records.csv"] + target)
        let execution = started.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(started.status == 0 && !execution.isEmpty)
        // A file store's batches live in the process that ran them: another process sees none.
        #expect(try await cli.run(["batch", "list", "scorer"] + target).status == 0)

        #expect(try await cli.run(["redeploy", "scorer", "--version", "1.0", "--description", "Rescored"] + target).output.contains("Rescored"))
        let deleted = try await cli.run(["delete", "scorer", "--version", "1.0"] + target)
        #expect(deleted.status == 0 && deleted.output.contains("deleted scorer 1.0"))
        let gone = try await cli.run(["get", "scorer"] + target)
        #expect(gone.status == 1 && gone.error.contains("error[not-found]"))
    }

    @Test("a manifest of the Python SDK's options, flags over it; realtime models; redeploy of the latest")
    func manifestAndRealtime() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let target = ["--target", "file:./services"]
        try cli.write("service.json", #"{"version": "2.0", "description": "from the manifest", "code_str": "y = x + k", "inputs": {"x": "int"}, "outputs": {"y": "int"}, "objects": {"k": 10}}"#)
        let deployed = try await cli.run(["deploy", "m", "--manifest", "service.json", "--description", "from a flag", "--format", "json"] + target)
        let info = try JSONValue(parsing: Data(deployed.output.utf8))
        #expect(info["version"] == "2.0" && info["description"] == "from a flag", "\(deployed.output) \(deployed.error)")
        #expect(try await cli.run(["consume", "m", "x=5"] + target).output.contains("y: 15"))
        let redeployed = try await cli.run(["redeploy", "m", "--description", "latest"] + target)
        #expect(redeployed.status == 0 && redeployed.output.contains("m 2.0 — latest"), "\(redeployed.error)")
        try cli.write("bad.json", #"{"colour": "blue"}"#)
        let bad = try await cli.run(["deploy", "m", "--manifest", "bad.json"] + target)
        #expect(bad.status == 1 && bad.error.contains("colour"))

        try cli.write("model.bin", bytes: Array(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)))
        let realtime = try await cli.run(["deploy-realtime", "rt", "--version", "1", "--model", "model.bin", "--description", "a model"] + target)
        #expect(realtime.status == 0 && realtime.output.contains("rt 1 — a model") && realtime.output.contains("inputData: data.frame"), "\(realtime.output) \(realtime.error)")
        #expect(try await cli.run(["list", "--format", "json"] + target).output.contains(#""runtimeType":"Realtime""#))
    }

    @Test("bad flags and bad input: clear errors, non-zero exits")
    func errors() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let target = ["--target", "file:./services"]
        #expect(try await cli.run(["deploy"]).status == 64, "a missing argument is a usage error")
        #expect(try await cli.run(["list", "--format", "xml"]).status == 64)
        let noCode = try await cli.run(["deploy", "s"] + target)
        #expect(noCode.status == 1 && noCode.error.contains("--code"))
        let badType = try await cli.run(["deploy", "s", "--code", "missing.py"] + target)
        #expect(badType.status == 1 && badType.error.contains("missing.py"))
        try cli.write("c.py", "y = x\n")
        let badInput = try await cli.run(["deploy", "s", "--code", "c.py", "--input", "x=quaternion"] + target)
        #expect(badInput.status == 1 && badInput.error.contains("error[unknown-parameter-type]"), "\(badInput.error)")
        #expect(try await cli.run(["deploy", "s", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"] + target).status == 0)
        let unknownInput = try await cli.run(["consume", "s", "z=1"] + target)
        #expect(unknownInput.status == 1 && unknownInput.error.contains("error[input-mismatch]"))
        let wrongType = try await cli.run(["consume", "s", "x=\"text\""] + target)
        #expect(wrongType.status == 1 && wrongType.error.contains("error["), "\(wrongType.error)")
        let badTarget = try await cli.run(["list", "--target", "nosuch:thing"])
        #expect(badTarget.status == 1 && badTarget.error.contains("error[unknown-backend]"))
        let badConfig = try await cli.run(["list"], environment: ["MLDEPLOY_HTTP_TIMEOUT_CONSUME": "soon"])
        #expect(badConfig.status == 1 && badConfig.error.contains("http.timeout.consume") && badConfig.error.contains("the environment"))
    }

    @Test("profiles switch targets without code changes; login caches a token; config show masks secrets")
    func profilesAndLogin() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        // A real `mldeploy serve` for the remote profile.
        let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent("server").path], name: "mldeploy serve", environment: cli.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "Pass123!"]) { _, new in new })
        defer { server.stop() }
        let line = try await server.waitForLine { $0.contains("mldeploy serve: listening on") }
        let base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
        try cli.write("mldeploy.yaml", """
            target: file:./local-services
            profiles:
              dev:
                target: "memory:"
              prod:
                target: mlserver+\(base)
                auth:
                  username: admin
            """)
        try cli.write("c.py", "y = x * 2\n")
        let deploy = ["deploy", "doubler", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"]
        #expect(try await cli.run(deploy).status == 0, "the file target from the top level")
        let noPassword = try await cli.run(["list", "--profile", "prod"])
        #expect(noPassword.status == 1 && noPassword.error.contains("invalid-configuration") && noPassword.error.contains("password"))
        let login = try await cli.run(["login", "--profile", "prod"], environment: ["MLDEPLOY_PASSWORD": "Pass123!"])
        #expect(login.status == 0 && login.output.contains("logged in"), "\(login.error)")
        let cache = cli.directory.appendingPathComponent("home/.config/mldeploy/tokens.json").path
        let mode = try FileManager.default.attributesOfItem(atPath: cache)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // With the cached token, the prod profile needs no password (the username alone is not used).
        try cli.write("prod.yaml", "profiles:\n  prod:\n    target: mlserver+\(base)\n")
        #expect(try await cli.run(deploy + ["--config", "prod.yaml", "--profile", "prod"]).status == 0)
        let remote = try await cli.run(["list", "--config", "prod.yaml", "--profile", "prod", "--format", "json"])
        #expect(try JSONValue(parsing: Data(remote.output.utf8)).arrayValue?.map { $0["name"] } == ["doubler"], "\(remote.output) \(remote.error)")
        let consumed = try await cli.run(["consume", "doubler", "x=21", "--config", "prod.yaml", "--profile", "prod"])
        #expect(consumed.output.contains("y: 42"), "\(consumed.error)")
        #expect(try await cli.run(["list", "--profile", "dev"]).output.contains("doubler") == false, "the dev profile is an empty memory target")

        let shown = try await cli.run(["config", "show", "--profile", "prod"], environment: ["MLDEPLOY_PASSWORD": "Pass123!"])
        #expect(shown.output.contains("auth.password") && shown.output.contains("****") && !shown.output.contains("Pass123!"), "\(shown.output)")
        #expect(shown.output.contains("profile 'prod'"))
        #expect(try await cli.run(["logout", "--config", "prod.yaml", "--profile", "prod"]).output.contains("logged out"))
        let after = try await cli.run(["list", "--config", "prod.yaml", "--profile", "prod"])
        #expect(after.status == 1 && after.error.contains("authentication-failed"), "\(after.error)")
    }

    @Test("doctor reports python, its modules, libcurl, worker confinement and the target; an unreachable target exits 1; completions are generated")
    func doctorAndCompletions() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let healthy = try await cli.run(["doctor", "--target", "file:./services"])
        #expect(healthy.status == 0 && healthy.output.contains("libcurl: ") && healthy.output.contains("python: ") && healthy.output.contains("numpy") && healthy.output.contains("reachable"), "\(healthy.output) \(healthy.error)")
        #expect(healthy.output.contains("isolation: sandbox (bubblewrap): user nobody, network host"), "\(healthy.output)")
        let unconfinable = try await cli.run(["doctor", "--target", "file:./services"], environment: ["MLDEPLOY_RUNTIME_USER": "no-such-mldeploy-user"])
        #expect(unconfinable.status == 0 && unconfinable.output.contains("warning: isolation: [python-runtime-unavailable]") && unconfinable.output.contains("refuses to start"), "\(unconfinable.output)")
        let unconfined = try await cli.run(["--format", "json", "doctor", "--target", "file:./services"], environment: ["MLDEPLOY_RUNTIME_ISOLATION": "none"])
        let isolation = try JSONValue(parsing: Data(unconfined.output.utf8)).arrayValue?.first { $0["check"]?.stringValue == "isolation" }
        #expect(isolation?["status"]?.stringValue == "warning" && isolation?["detail"]?.stringValue?.hasPrefix("none:") == true, "\(unconfined.output)")
        let unreachable = try await cli.run(["doctor", "--target", "mlserver+http://127.0.0.1:9"], environment: ["MLDEPLOY_TOKEN": "t", "MLDEPLOY_HTTP_RETRY_ATTEMPTS": "1"])
        #expect(unreachable.status == 1 && unreachable.output.contains("NOT reachable"), "\(unreachable.output) \(unreachable.error)")
        for shell in ["bash", "zsh", "fish"] {
            let script = try await cli.run(["--generate-completion-script", shell])
            #expect(script.status == 0 && script.output.contains("consume") && script.output.contains("deploy-realtime"), "\(shell)")
        }
    }

    @Test("a server can front another: serve --backend mlserver+http://… with the upstream's credentials from the environment")
    func serverChain() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        func start(_ name: String, _ arguments: [String], _ environment: [String: String]) async throws -> (ChildProcess, String) {
            let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent(name).path] + arguments, name: name,
                                          environment: cli.environment.merging(environment) { _, new in new })
            let line = try await server.waitForLine { $0.contains("mldeploy serve: listening on") }
            return (server, try #require(line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) }))
        }
        let (upstream, upstreamAddress) = try await start("upstream", [], ["MLDEPLOY_ADMIN_PASSWORD": "Up-Pass-1"])
        defer { upstream.stop() }
        let (front, frontAddress) = try await start("front", ["--backend", "mlserver+http://\(upstreamAddress)"],
                                                    ["MLDEPLOY_ADMIN_PASSWORD": "Front-Pass-1", "MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Up-Pass-1"])
        defer { front.stop() }
        try cli.write("c.py", "y = x + 1\n")
        let viaFront = ["--target", "mlserver+http://\(frontAddress)"], atUpstream = ["--target", "mlserver+http://\(upstreamAddress)"]
        let frontAuth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Front-Pass-1"], upstreamAuth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Up-Pass-1"]
        let deployed = try await cli.run(["deploy", "chained", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"] + viaFront, environment: frontAuth)
        #expect(deployed.status == 0, "\(deployed.error)")
        #expect(try await cli.run(["consume", "chained", "x=41"] + viaFront, environment: frontAuth).output.contains("y: 42"))
        #expect(try await cli.run(["list"] + atUpstream, environment: upstreamAuth).output.contains("chained"), "it landed upstream")
    }

    @Test("batch --wait draws a progress bar on a terminal")
    func progressBar() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try cli.write("c.py", "import time\ntime.sleep(0.05)\ny = x\n")
        try cli.write("r.jsonl", (0..<8).map { "{\"x\": \($0)}" }.joined(separator: "\n"))
        let target = ["--target", "file:./services"]
        #expect(try await cli.run(["deploy", "slow", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"] + target).status == 0)
        // `script` gives the command a pseudo-terminal.
        let command = ([CLI.executable, "batch", "slow", "--records", "r.jsonl", "--parallel", "1", "--wait"] + target).map { "'\($0)'" }.joined(separator: " ")
        let run = try await runToCompletion("/usr/bin/script", ["-qfec", command, "/dev/null"], environment: cli.environment, directory: cli.directory)
        #expect(run.status == 0 && run.output.contains("[##############################] 8/8 Complete"), "\(run.output)")
    }
}


@Suite("README's CLI tour")
struct ReadmeCLITourTests {
    @Test("the README's shell tour runs as written against a real mldeploy serve")
    func tour() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let server = try ChildProcess(CLI.executable, ["serve", "--port", "0", "--data-dir", cli.directory.appendingPathComponent("server").path], name: "mldeploy serve", environment: cli.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "Pass123!"]) { _, new in new })
        defer { server.stop() }
        let line = try await server.waitForLine { $0.contains("mldeploy serve: listening on") }
        let address = try #require(line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let tour = try #require(readme.range(of: "## Quick tour"))
        let start = try #require(readme.range(of: "```sh\n", range: tour.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let script = "set -e\n" + readme[start.upperBound..<end.lowerBound].replacingOccurrences(of: "127.0.0.1:12800", with: address)

        var environment = cli.environment
        environment["PATH"] = URL(fileURLWithPath: CLI.executable).deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let run = try await runToCompletion("/bin/sh", ["-c", script], environment: environment, directory: cli.directory)
        let text = run.output
        #expect(run.status == 0, "\(text)")
        #expect(text.contains("total: 42.0") && text.contains(#"{"total":42.0}"#) && text.contains("deleted doubler 1.0"), "\(text)")

        // The configuration example: its mldeploy.yaml, then its commands, in a shell without the
        // MLDEPLOY_* variables of the first block (as the README says).
        let yamlStart = try #require(readme.range(of: "```yaml\n", range: end.upperBound..<readme.endIndex))
        let yamlEnd = try #require(readme.range(of: "```", range: yamlStart.upperBound..<readme.endIndex))
        let profiles = cli.directory.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        try readme[yamlStart.upperBound..<yamlEnd.lowerBound].replacingOccurrences(of: "127.0.0.1:12800", with: address)
            .write(to: profiles.appendingPathComponent("mldeploy.yaml"), atomically: true, encoding: .utf8)
        try "total = x * 2\n".write(to: profiles.appendingPathComponent("double.py"), atomically: true, encoding: .utf8)
        let secondStart = try #require(readme.range(of: "```sh\n", range: yamlEnd.upperBound..<readme.endIndex))
        let secondEnd = try #require(readme.range(of: "```", range: secondStart.upperBound..<readme.endIndex))
        let second = try await runToCompletion("/bin/sh", ["-c", "set -e\n" + readme[secondStart.upperBound..<secondEnd.lowerBound]], environment: environment, directory: profiles)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("doubler 1.0") && second.output.contains("logged in") && second.output.contains("logged out") && second.output.contains("revoked"), "\(second.output)")
        #expect(!second.output.contains("error["), "\(second.output)")
        #expect(FileManager.default.fileExists(atPath: profiles.appendingPathComponent("services").path), "the first command went to the file target")
    }
}
