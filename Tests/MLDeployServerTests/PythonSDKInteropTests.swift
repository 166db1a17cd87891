import Foundation
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

    @Test("the SDK logs in, publishes every type, lists, gets, consumes, redeploys, batches and deletes; SIGTERM stops the server cleanly", .timeLimit(.minutes(3)))
    func sdk() async throws {
        let python = ProcessInfo.processInfo.environment["MLDEPLOY_SDK_PYTHON"] ?? Self.packageRoot.appendingPathComponent(".venv-sdk/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no SDK venv at \(python): run scripts/bootstrap.sh (or set MLDEPLOY_SDK_PYTHON)")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-serve-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: data) }

        let server = Process()
        let output = Pipe()
        server.executableURL = URL(fileURLWithPath: Self.executable)
        server.arguments = ["serve", "--port", "0", "--data-dir", data]
        server.environment = ProcessInfo.processInfo.environment.merging(["MLDEPLOY_ADMIN_PASSWORD": "Interop-Pass-1"]) { _, new in new }
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        // Wait for "… listening on http://127.0.0.1:PORT …".
        var seen = ""
        var host: String?
        let reader = output.fileHandleForReading
        while host == nil {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) { host = String(seen[range]) }
        }
        let base = try #require(host, "the server never said where it listens: \(seen)")
        #expect(seen.contains("created user 'admin' (Owner) with the password from MLDEPLOY_ADMIN_PASSWORD"))

        let client = Process()
        let clientOutput = Pipe()
        client.executableURL = URL(fileURLWithPath: python)
        client.arguments = [Self.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/sdk_interop.py").path, base, "admin", "Interop-Pass-1"]
        client.standardOutput = clientOutput
        client.standardError = clientOutput
        try client.run()
        let transcript = String(decoding: clientOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(client.terminationStatus == 0, "\(transcript)")
        #expect(transcript.contains("SDK INTEROP OK"), "\(transcript)")

        server.terminate()  // SIGTERM: graceful shutdown
        server.waitUntilExit()
        #expect(server.terminationReason == .exit && server.terminationStatus == 0)
    }
}
