import Foundation
import MLDeployONNX
import MLDeployTestSupport
import Testing

/// The unmodified Python SDK against a real `mldeploy serve` process: the built executable, a
/// filesystem store, real python3 workers. `scripts/bootstrap.sh` makes the SDK's venv (.venv-sdk).
@Suite("Python SDK interoperability")
struct PythonSDKInteropTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var executable: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        return directory.appendingPathComponent("mldeploy").path
    }

    /// The SDK venv's python (scripts/bootstrap.sh makes it).
    static func sdkPython() throws -> String {
        let python = ProcessInfo.processInfo.environment["MLDEPLOY_SDK_PYTHON"] ?? Self.packageRoot.appendingPathComponent(".venv-sdk/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no SDK venv at \(python): run scripts/bootstrap.sh (or set MLDEPLOY_SDK_PYTHON)")
        return python
    }

    /// Starts `mldeploy serve` on a free port over a fresh data directory; returns it, its base URL
    /// and everything it printed up to its ready line.
    static func startServer(data: String) throws -> (server: Process, base: String, output: String) {
        let server = Process()
        let output = Pipe()
        server.executableURL = URL(fileURLWithPath: Self.executable)
        server.arguments = ["serve", "--port", "0", "--data-dir", data]
        server.environment = ProcessInfo.processInfo.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "Interop-Pass-1"]) { _, new in new }
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        // Wait for "… listening on http://127.0.0.1:PORT …".
        var seen = ""
        let reader = output.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) { return (server, String(seen[range]), seen) }
        }
        server.terminate()
        throw TestFailure("the server never said where it listens: \(seen)")
    }

    /// Runs an SDK script with the venv's python (off the cooperative pool); returns its exit
    /// status and output.
    static func runScript(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let script = Self.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/\(name)").path
        let run = try await runToCompletion(try Self.sdkPython(), [script] + arguments)
        return (run.status, run.output)
    }

    @Test("the SDK logs in, publishes every type, lists, gets, consumes, redeploys, batches and deletes; SIGTERM stops the server cleanly", .timeLimit(.minutes(3)))
    func sdk() async throws {
        _ = try Self.sdkPython()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-serve-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (server, base, seen) = try await offThePool { try Self.startServer(data: data) }
        defer { if server.isRunning { server.terminate() } }
        #expect(seen.contains("created user 'admin' (Owner) with the password from MLDEPLOY_ADMIN_PASSWORD"))

        let (status, transcript) = try await Self.runScript("sdk_interop.py", [base, "admin", "Interop-Pass-1"])
        #expect(status == 0, "\(transcript)")
        #expect(transcript.contains("SDK INTEROP OK"), "\(transcript)")

        server.terminate()  // SIGTERM: graceful shutdown
        try await offThePool { server.waitUntilExit() }
        #expect(server.terminationReason == .exit && server.terminationStatus == 0)
    }

    @Test("the SDK consumes an ONNX realtime service with a pandas data frame and gets outputData back", .timeLimit(.minutes(2)))
    func realtime() async throws {
        _ = try Self.sdkPython()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-serve-rt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("model.onnx")
        try ONNXModel.linearRegressor(coefficients: [2], intercept: 1).write(to: model)
        let (server, base, _) = try await offThePool { try Self.startServer(data: directory.appendingPathComponent("data").path) }
        defer { if server.isRunning { server.terminate() } }
        let (status, transcript) = try await Self.runScript("sdk_realtime.py", [base, "admin", "Interop-Pass-1", model.path])
        #expect(status == 0 && transcript.contains("SDK REALTIME OK"), "\(transcript)")
    }
}
