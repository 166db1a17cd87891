import Foundation
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
}
