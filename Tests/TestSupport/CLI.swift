import Foundation

/// Runs the built `mldeploy` executable (beside the test binary) in a directory of its own.
public struct CLI {
    /// The `mldeploy` executable beside the test binary.
    public static var executable: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        return directory.appendingPathComponent("mldeploy").path
    }

    /// The working directory (removed by ``remove()``).
    public let directory: URL
    /// The environment every run gets.
    public var environment: [String: String]

    /// A CLI working in a fresh directory, with a home of its own and no MLDEPLOY_* from outside.
    public init() throws {
        self.directory = try temporaryDirectory("cli")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["HOME"] = self.directory.appendingPathComponent("home").path
        self.environment = environment
    }

    /// How a run ended.
    public struct Result: Sendable {
        /// The exit status.
        public let status: Int32
        /// Standard output.
        public let output: String
        /// Standard error.
        public let error: String
    }

    /// Runs `mldeploy arguments…`, feeding `input` on standard input.
    ///
    /// The process is run and waited for off the cooperative pool (``offThePool(_:)``).
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil, environment extra: [String: String] = [:]) async throws -> Result {
        let directory = self.directory, environment = self.environment.merging(extra) { _, new in new }
        return try await offThePool { try Self.runBlocking(arguments, input: input, directory: directory, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], input: String?, directory: URL, environment: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = environment
        let output = Pipe(), error = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try launching { try process.run() }
        if let input { try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        final class Box: @unchecked Sendable { var data = Data() }
        let errorBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorBox.data = error.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputText = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        group.wait()
        let stderrText = String(decoding: errorBox.data, as: UTF8.self)
        return Result(status: process.terminationStatus, output: outputText, error: stderrText)
    }

    /// Writes `text` to `name` in the working directory.
    public func write(_ name: String, _ text: String) throws {
        try text.write(to: self.directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Writes `bytes` to `name` in the working directory.
    public func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: self.directory.appendingPathComponent(name))
    }

    /// Removes the working directory.
    public func remove() { try? FileManager.default.removeItem(at: self.directory) }
}
