import Foundation

/// Runs the built `mldeploy` executable (beside the test binary) in a directory of its own.
public struct CLI: Sendable {
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
        let stdin = try Spawn.pipe(), stdout = try Spawn.pipe(), stderr = try Spawn.pipe()
        let pid: pid_t
        do {
            pid = try Spawn.start(Self.executable, arguments, environment: environment, directory: directory.path, input: stdin.read, output: stdout.write, error: stderr.write)
        } catch {
            for end in [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write] { close(end) }
            throw error
        }
        close(stdin.read)
        close(stdout.write)
        close(stderr.write)
        if let input {
            let bytes = Array(input.utf8)
            _ = bytes.withUnsafeBytes { Glibc.write(stdin.write, $0.baseAddress, $0.count) }
        }
        close(stdin.write)
        final class Box: @unchecked Sendable { var data = Data() }
        let errorBox = Box()
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {  // not Dispatch: see offThePool
            errorBox.data = Spawn.readAll(stderr.read)
            group.leave()
        }
        let outputText = String(decoding: Spawn.readAll(stdout.read), as: UTF8.self)
        group.wait()
        let status = Spawn.wait(pid)
        return Result(status: status, output: outputText, error: String(decoding: errorBox.data, as: UTF8.self))
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
