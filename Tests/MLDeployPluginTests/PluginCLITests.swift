import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

/// The stock `mldeploy` reaching plugins it was never compiled with, the way a user types it.
@Suite("Backend plugins: the CLI")
struct PluginCLITests {
    /// A CLI whose plugin path holds the Python example and the Swift example only.
    static func cli() throws -> CLI {
        var cli = try CLI()
        cli.environment["MLDEPLOY_PLUGIN_PATH"] = PluginFixtures.pythonExampleDirectory + ":" + PluginFixtures.buildDirectory
        return cli
    }

    @Test("a whole service life on the Python example plugin: deploy, list, get, swagger, consume, batch, redeploy, delete", .timeLimit(.minutes(3)))
    func pythonExampleLife() async throws {
        let cli = try Self.cli()
        defer { cli.remove() }
        try cli.write("score.py", "total = x * 2\nnote = 'doubled ' + str(x)\nprint('scoring', x)\nopen('out.txt', 'w').write(str(total))\n")
        try cli.write("records.jsonl", "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n")
        let target = ["--target", "jsonstore:./services.json"]
        let deployed = try await cli.run(target + ["deploy", "scorer", "--version", "1.0", "--code", "score.py", "--input", "x=numeric", "--output", "total=numeric", "--output", "note=str", "--artifact", "out.txt"])
        #expect(deployed.status == 0, "\(deployed.error)")
        #expect(FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("services.json").path))
        let consumed = try await cli.run(target + ["consume", "scorer", "x=21"])
        #expect(consumed.status == 0 && consumed.output.contains("total: 42") && consumed.output.contains("doubled 21"), "\(consumed.output)\(consumed.error)")
        #expect(consumed.error.contains("scoring 21"), "console output goes to stderr: \(consumed.error)")
        let json = try await cli.run(target + ["--format", "json", "consume", "scorer", "--version", "1.0", "-"], input: #"{"x": 1}"#)
        try #require(json.status == 0, "\(json.output)\(json.error)")
        let result = try JSONValue(parsing: json.output)
        #expect(result["outputParameters"]?["total"]?.doubleValue == 2, "\(json.output)")
        #expect(result["outputFiles"]?["out.txt"]?.stringValue == Data("2.0".utf8).base64EncodedString(), "\(json.output)")
        #expect(try await cli.run(target + ["list"]).output.contains("scorer"))
        #expect(try await cli.run(target + ["get", "scorer"]).output.contains("inputs:  x: numeric"))
        #expect(try await cli.run(target + ["swagger", "scorer"]).output.contains("\"swagger\":\"2.0\""))
        let batch = try await cli.run(target + ["--format", "json", "batch", "scorer", "--records", "records.jsonl", "--parallel", "2", "--wait"])
        #expect(batch.status == 0, "\(batch.error)")
        #expect(batch.output.contains("Complete") && batch.output.contains("6.0"), "\(batch.output)")
        let redeployed = try await cli.run(target + ["redeploy", "scorer", "--version", "1.0", "--description", "Rescored"])
        #expect(redeployed.status == 0 && redeployed.output.contains("Rescored"), "\(redeployed.output)\(redeployed.error)")
        #expect(try await cli.run(target + ["consume", "scorer", "x=5"]).output.contains("total: 10"), "the code is unchanged by a description-only redeploy")
        let missing = try await cli.run(target + ["get", "scorer", "--version", "9.9"])
        #expect(missing.status == 1 && missing.error.contains("error[not-found]"), "\(missing.error)")
        let conflict = try await cli.run(target + ["deploy", "scorer", "--version", "1.0", "--code", "score.py"])
        #expect(conflict.status == 1 && conflict.error.contains("error[conflict]"), "\(conflict.error)")
        #expect(try await cli.run(target + ["delete", "scorer", "--version", "1.0"]).status == 0)
        #expect(try await cli.run(target + ["get", "scorer"]).error.contains("error[not-found]"))
    }

    @Test("mldeploy backends lists the plugins found, with their summary, capabilities and path; --format json too")
    func backendsListing() async throws {
        let cli = try Self.cli()
        defer { cli.remove() }
        let text = try await cli.run(["backends"])
        #expect(text.status == 0)
        #expect(text.output.contains("jsonstore  URIs: jsonstore:  plugin: \(PluginFixtures.pythonExampleDirectory)/mldeploy-backend-jsonstore"), "\(text.output)")
        #expect(text.output.contains("capabilities: pythonServices, batch, batchArtifacts; protocol 1"), "\(text.output)")
        #expect(text.output.contains("wrapped  URIs: wrapped:"), "\(text.output)")
        let json = try JSONValue(parsing: try await cli.run(["--format", "json", "backends"]).output)
        let plugins = try #require(json["plugins"]?.arrayValue)
        let wrapped = try #require(plugins.first { $0["name"]?.stringValue == "wrapped" })
        #expect(wrapped["path"]?.stringValue == PluginFixtures.buildDirectory + "/mldeploy-backend-wrapped")
        #expect(wrapped["capabilities"]?.arrayValue?.contains("swiftHandlers") == true)
        #expect(json["backends"]?.arrayValue?.contains { $0["name"]?.stringValue == "memory" } == true)
        // Probing creates nothing in the working directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.directory.path).filter { $0 != "home" }.isEmpty)
    }

    @Test("a plugin named like a built-in backend is reported as shadowed and never used; a broken plugin is listed with its problem")
    func shadowAndBroken() async throws {
        var cli = try Self.cli()
        defer { cli.remove() }
        let directory = cli.directory.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try PluginFixtures.writePlugin("memory", in: directory, "#!/bin/sh\necho 'the impostor ran' > impostor-ran\nexit 1\n")
        try PluginFixtures.writePlugin("broken", in: directory, "#!/bin/sh\necho 'broken: no config' >&2\nexit 2\n")
        cli.environment["MLDEPLOY_PLUGIN_PATH"] = directory.path
        let listing = try await cli.run(["backends"])
        #expect(listing.output.contains("shadowed: the built-in backend memory owns the name 'memory'"), "\(listing.output)")
        #expect(listing.output.contains("broken  URIs: broken:") && listing.output.contains("not usable: [plugin-failed]") && listing.output.contains("broken: no config"), "\(listing.output)")
        let list = try await cli.run(["--target", "memory:", "list"])
        #expect(list.status == 0, "\(list.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("impostor-ran").path))
        let failed = try await cli.run(["--target", "broken:", "list"])
        #expect(failed.status == 1 && failed.error.contains("error[plugin-failed]") && failed.error.contains("broken: no config"), "\(failed.error)")
    }

    @Test("plugins.path in the config file finds plugins; --config goes before the command")
    func configPath() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["PATH"] = "/usr/bin:/bin"  // the build directory is not on it
        // A relative entry is relative to the config file's directory.
        try FileManager.default.createDirectory(at: cli.directory.appendingPathComponent("conf"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: cli.directory.appendingPathComponent("bin").path, withDestinationPath: PluginFixtures.buildDirectory)
        try cli.write("conf/plugins.yaml", "plugins:\n  path: /nonexistent:../bin\n  handshake_timeout: 20\n")
        let missing = try await cli.run(["--target", "wrapped:memory:", "list"])
        #expect(missing.status == 1 && missing.error.contains("error[unknown-backend]") && missing.error.contains("mldeploy-backend-wrapped"), "\(missing.error)")
        let found = try await cli.run(["--config", "conf/plugins.yaml", "--target", "wrapped:memory:", "list"])
        #expect(found.status == 0, "\(found.error)")
        let shown = try await cli.run(["--config", "conf/plugins.yaml", "config", "show"])
        #expect(shown.output.contains("plugins.path") && shown.output.contains("plugins.call_timeout"), "\(shown.output)")
    }

    @Test("mldeploy conformance passes against plugin targets, the Python example included; a failing plugin exits 1; a check nobody has is refused", .timeLimit(.minutes(4)))
    func conformanceCommand() async throws {
        let cli = try Self.cli()
        defer { cli.remove() }
        let passed = try await cli.run(["--target", "wrapped:file:./services", "conformance", "--check", "deploy", "--check", "consume-every-type"])
        #expect(passed.status == 0, "\(passed.output)\(passed.error)")
        #expect(passed.output.contains("ok    deploy-and-get") && passed.output.contains("ok    consume-every-type"), "\(passed.output)")
        #expect(passed.output.contains("checks passed against wrapped:file:./services"), "\(passed.output)")
        let listed = try await cli.run(["conformance", "--list"])
        #expect(listed.status == 0 && listed.output.contains("batch-cancel"))
        // The plugin written in plain Python passes too: the protocol is language-neutral. (It
        // passes the whole suite; here a representative part, since it starts a Python process per
        // call and the full run shares two cores with every other suite. It has no realtime
        // services: the suite checks they are refused as unsupported.)
        let python = try await cli.run(["--format", "json", "--target", "jsonstore:./s.json", "conformance",
            "--check", "deploy-and-get", "--check", "redeploy-leaves-unset-fields", "--check", "list-forms", "--check", "consume-every-type",
            "--check", "artifacts-and-console", "--check", "output-type-mismatch", "--check", "realtime-metadata", "--check", "batch-order-and-results", "--check", "bad-inputs"])
        #expect(python.status == 0, "\(python.output)\(python.error)")
        let report = try JSONValue(parsing: python.output)
        #expect(report["failures"]?.intValue == 0, "\(python.output)")
        #expect(report["checks"]?.arrayValue?.count == 9)
        // A plugin that claims Python services but implements nothing fails, and the command exits 1.
        var broken = cli
        let directory = cli.directory.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try PluginFixtures.writePlugin("hollow", in: directory, PluginFixtures.pythonPlugin(behaviour: #"send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no " + method}})"#))
        broken.environment["MLDEPLOY_PLUGIN_PATH"] = directory.path
        let failed = try await broken.run(["--target", "hollow:", "conformance", "--check", "deploy-and-get", "--check", "list-forms"])
        #expect(failed.status == 1, "\(failed.output)\(failed.error)")
        #expect(failed.output.contains("FAIL  deploy-and-get") && failed.output.contains("0 of 2 checks passed"), "\(failed.output)")
        let none = try await cli.run(["--target", "memory:", "conformance", "--check", "no-such-check"])
        #expect(none.status == 1 && none.error.contains("invalid-argument"))
    }
}
