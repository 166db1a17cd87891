import FileStoreBackend
import Foundation
import MLDeployTestSupport
import Logging
import MLDeploy
import ServiceRuntime

/// A fresh store root under the temporary directory, removed by `withStore`.
func temporaryRoot(_ label: String = "store") -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-\(label)-\(UUID().uuidString.prefix(8))").path
}

/// An initialized store on `root`.
func openStore(_ root: String, python: Bool = false) async throws -> FileStore {
    let store = FileStore(root: root, python: python ? .init() : nil)
    try await store.initialize(context: BackendContext(configuration: BackendConfiguration(backendName: "filesystem"), logger: .init(label: "test")))
    return store
}

/// An executable of this package, built next to the test bundle.
func builtExecutable(_ name: String) -> String {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
    return directory.appendingPathComponent(name).path
}

/// The helper executable that writes to a store from another process.
var helperPath: String { builtExecutable("filestore-helper") }

/// Runs a command to its end, returning its exit status, standard output and standard error.
func runCapturing(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    let (output, error) = (Pipe(), Pipe())
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Both pipes are drained concurrently before waiting, so a chatty child cannot block on a full pipe.
    let outputText = Task.detached { String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    let errorText = Task.detached { String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    let texts = (await outputText.value, await errorText.value)
    try await offThePool { process.waitUntilExit() }
    return (process.terminationStatus, texts.0, texts.1)
}

/// A running helper process.
final class Helper: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(_ arguments: [String]) throws {
        self.process.executableURL = URL(fileURLWithPath: helperPath)
        self.process.arguments = arguments
        self.process.standardInput = self.input
        self.process.standardOutput = self.output
        self.process.standardError = FileHandle.nullDevice
        try self.process.run()
    }

    /// Waits for the next line of output ("ready", "done"), or nil at the end, off the cooperative
    /// pool — for long waits, which would starve it (a whole parallel test run shares its threads).
    func nextLine() async throws -> String? {
        try await offThePool { self.line() }
    }

    /// Reads the next line on this thread: for the short, timing-sensitive waits of the crash test,
    /// where a hop to another thread would skew the kill window it calibrates.
    func line() -> String? {
        var bytes: [UInt8] = []
        let handle = self.output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte[0] == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte[0])
        }
    }

    func go() {
        self.input.fileHandleForWriting.write(Data("go\n".utf8))
    }

    func kill() {
        Foundation.kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()  // immediate after SIGKILL
    }

    func wait() async throws -> Int32 {
        try await offThePool { self.process.waitUntilExit() }
        return self.process.terminationStatus
    }
}
