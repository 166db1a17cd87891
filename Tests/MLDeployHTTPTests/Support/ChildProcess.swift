import Foundation

/// A helper process for tests (a server, a proxy), stopped when the test is done.
///
/// Its stdin stays open while it runs, so servers that exit at stdin EOF die with the test process
/// even if it crashes.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    let name: String

    init(_ executable: String, _ arguments: [String], name: String, environment: [String: String]? = nil) throws {
        self.name = name
        self.process.executableURL = URL(fileURLWithPath: executable)
        self.process.arguments = arguments
        self.process.standardInput = self.input
        self.process.standardOutput = self.output
        self.process.standardError = self.output
        if let environment { self.process.environment = environment }
        try self.process.run()
    }

    /// Reads output lines until one satisfies `match`; fails after `timeout`.
    func waitForLine(timeout: Duration = .seconds(10), _ match: @escaping @Sendable (String) -> Bool) async throws -> String {
        let handle = self.output.fileHandleForReading
        let name = self.name
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var buffer = Data()
                let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
                while Date() < deadline {
                    let chunk = handle.availableData
                    if chunk.isEmpty {
                        continuation.resume(throwing: TestFailure("\(name) exited before it was ready: \(String(decoding: buffer, as: UTF8.self))"))
                        return
                    }
                    buffer.append(chunk)
                    let text = String(decoding: buffer, as: UTF8.self)
                    if let line = text.split(separator: "\n").map(String.init).first(where: match) {
                        continuation.resume(returning: line)
                        return
                    }
                }
                continuation.resume(throwing: TestFailure("\(name) was not ready within \(timeout)"))
            }
        }
    }

    func stop() {
        try? self.input.fileHandleForWriting.close()
        if self.process.isRunning { self.process.terminate() }
        self.process.waitUntilExit()
    }

    deinit {
        self.stop()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP port nothing listens on right now (for servers that cannot pick their own).
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
    guard bound == 0 else { throw TestFailure("bind failed") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A fresh temporary directory, removed by the caller.
func temporaryDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}
