import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

/// `mldeploy serve` over a plugin target, checked by the unmodified Python SDK.
@Suite("Backend plugins: mldeploy serve")
struct PluginServeTests {
    @Test("the Python SDK publishes, consumes, batches and deletes through mldeploy serve --target wrapped:file:…; SIGTERM ends the plugin too", .timeLimit(.minutes(4)))
    func sdkThroughPlugin() async throws {
        let root = PluginFixtures.packageRoot
        let python = ProcessInfo.processInfo.environment["MLDEPLOY_SDK_PYTHON"] ?? root.appendingPathComponent(".venv-sdk/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no SDK venv at \(python): run scripts/bootstrap.sh")
        let data = try temporaryDirectory("plugin-serve")
        defer { try? FileManager.default.removeItem(at: data) }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Plugin-Pass-1"
        environment["MLDEPLOY_PLUGIN_PATH"] = PluginFixtures.buildDirectory
        let server = try ChildProcess(
            CLI.executable, ["serve", "--port", "0", "--data-dir", data.path, "--target", "wrapped:file:\(data.path)/services"],
            name: "mldeploy serve", environment: environment
        )
        defer { server.stop() }
        let line = try await server.waitForLine { $0.contains("listening on http://127.0.0.1:") }
        #expect(line.contains("backend wrapped (wrapped:file:"), "\(line)")
        let base = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
        let serverPID = try #require(Processes.children(of: server.process.processIdentifier).first)
        let pluginPID = try #require(Processes.children(of: serverPID).first { Processes.command(of: $0).hasPrefix("mldeploy-backen") }, "no plugin process under the server")

        let script = root.appendingPathComponent("Tests/MLDeployServerTests/Resources/sdk_interop.py").path
        let sdk = try await runToCompletion(python, [script, base, "admin", "Plugin-Pass-1"])
        #expect(sdk.status == 0 && sdk.output.contains("SDK INTEROP OK"), "\(sdk.output)")
        // Everything the SDK published went through the plugin into its file store.
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("services").path))

        kill(serverPID, SIGTERM)
        #expect(try await Processes.eventually(timeout: .seconds(20)) { Processes.isGone(serverPID) }, "the server did not stop on SIGTERM")
        #expect(try await Processes.eventually { Processes.isGone(pluginPID) }, "the plugin outlived the server")
    }
}
