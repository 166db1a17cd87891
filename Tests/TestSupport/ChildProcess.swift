import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Helpers shared by the test targets.

/// A helper process for tests (a server, a proxy), stopped when the test is done.
///
/// It runs under a small shell guard that SIGKILLs it as soon as its stdin closes — when the test
/// stops it, or when the test process dies — so no helper outlives a crashed test run. The pipes are
/// close-on-exec, so one helper never holds another's stdin open.
public final class ChildProcess: @unchecked Sendable {
    /// The guard process (the helper runs as its child).
    public let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    /// The helper's name, in errors.
    public let name: String

    /// Starts `executable` with `arguments` under the guard.
    public init(_ executable: String, _ arguments: [String], name: String, environment: [String: String]? = nil) throws {
        self.name = name
        for descriptor in [self.input.fileHandleForWriting.fileDescriptor, self.output.fileHandleForReading.fileDescriptor] {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        let guardScript = #"exec 3<&0; "$@" </dev/null & child=$!; cat <&3 >/dev/null; kill -9 $child 2>/dev/null; wait $child 2>/dev/null"#
        self.process.executableURL = URL(fileURLWithPath: "/bin/sh")
        self.process.arguments = ["-c", guardScript, "guard", executable] + arguments
        self.process.standardInput = self.input
        self.process.standardOutput = self.output
        self.process.standardError = self.output
        if let environment { self.process.environment = environment }
        try self.process.run()
    }

    /// Reads output lines until one satisfies `match`; fails after `timeout`.
    public func waitForLine(timeout: Duration = .seconds(30), _ match: @escaping @Sendable (String) -> Bool) async throws -> String {
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
                    // Complete lines only: a chunk may end in the middle of one ("…127.0.0.1:4" of a port).
                    let text = String(decoding: buffer, as: UTF8.self)
                    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    lines.removeLast()  // after the last newline: empty, or a line still arriving
                    if let line = lines.first(where: match) {
                        continuation.resume(returning: line)
                        return
                    }
                }
                continuation.resume(throwing: TestFailure("\(name) was not ready within \(timeout)"))
            }
        }
    }

    /// Stops the helper: closing its stdin makes the guard kill it. Waits at most two seconds.
    public func stop() {
        try? self.input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(2)
        while self.process.isRunning, Date() < deadline { usleep(10_000) }
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }

    deinit {
        self.stop()
    }
}

/// A test's own failure, with a message.
public struct TestFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// A failure saying `description`.
    public init(_ description: String) { self.description = description }
}

/// A TCP port nothing listens on right now (for servers that cannot pick their own).
public func freePort() throws -> Int {
    let (descriptor, port) = try loopbackSocket()
    close(descriptor)
    return port
}

/// A TCP socket bound to a free port of 127.0.0.1 — listening with `backlog` when given — and its
/// port; the caller closes it.
public func loopbackSocket(listening backlog: Int32? = nil) throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && (backlog.map { listen(descriptor, $0) == 0 } ?? true) && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard descriptor >= 0, bound else {
        if descriptor >= 0 { close(descriptor) }
        throw TestFailure("cannot bind a socket on 127.0.0.1")
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}

/// The address of `port` on 127.0.0.1.
public func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return address
}

/// A fresh temporary directory, removed by the caller.
public func temporaryDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// What a process run to completion by ``runToCompletion(_:_:environment:directory:)`` left.
public struct CompletedProcess: Sendable {
    /// The exit status.
    public var status: Int32
    /// Its standard output and standard error, interleaved as written.
    public var output: String
}

/// Runs blocking work — waiting for a process, reading a pipe to its end, a raw socket exchange —
/// on a thread of its own.
///
/// Tests run on Swift's cooperative pool, which has one thread per core (two here), shared by every
/// suite running in parallel. A test that blocked one while a helper ran for seconds starved the
/// others: in-process servers stopped answering, short-lived tokens expired mid-request, and loops
/// polling for a helper's port ran out of time before their first try. Dispatch's global queues
/// are no way out on Linux: they have a few threads per core and share them with the cooperative
/// pool, so a dozen blocked exchanges waiting for an in-process server (whose handlers need the
/// pool) deadlocked the whole run once. A thread per piece of blocking work cannot run out.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs `executable` with `arguments` until it exits (stdin at end of file), collecting its output,
/// off the cooperative pool. For short commands whose whole output a test checks; long-running
/// helpers use ``ChildProcess``.
public func runToCompletion(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil
) async throws -> CompletedProcess {
    try await offThePool { try runToCompletionBlocking(executable, arguments, environment: environment, directory: directory) }
}

private func runToCompletionBlocking(
    _ executable: String, _ arguments: [String], environment: [String: String]?, directory: URL?
) throws -> CompletedProcess {
    let output = try Spawn.pipe()
    let nullInput = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(nullInput) }
    let pid: pid_t
    do {
        pid = try Spawn.start(executable, arguments, environment: environment, directory: directory?.path, input: nullInput, output: output.write, error: output.write)
    } catch {
        close(output.read)
        close(output.write)
        throw error
    }
    close(output.write)
    let text = String(decoding: Spawn.readAll(output.read), as: UTF8.self)
    return CompletedProcess(status: Spawn.wait(pid), output: text)
}

/// Polls until something accepts TCP connections on `port`. It always tries once more after the
/// deadline: a test whose task was not scheduled until then must not fail without having looked.
public func waitUntilListening(port: Int, timeout: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastTry = false
    while !lastTry {
        lastTry = ContinuousClock.now >= deadline
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(descriptor)
        if connected == 0 { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("nothing listened on port \(port) within \(timeout)")
}

/// Polls `url` until it answers 200 (a server's readiness route), for up to `timeout`; returns
/// whether it did.
public func waitUntilReady(_ url: URL, timeout: Duration = .seconds(60)) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let (_, response) = try? await URLSession.shared.data(from: url), (response as? HTTPURLResponse)?.statusCode == 200 { return true }
        try await Task.sleep(for: .milliseconds(200))
    }
    return false
}

/// The last `limit` characters of a helper server's log file, for a failure message: enough to
/// show why a third-party server stopped or never became ready, without pages of request lines.
public func logTail(_ path: String, limit: Int = 6_000) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log at \(path))" }
    return text.count > limit ? "…" + text.suffix(limit) : text
}

/// Nil while the server at `ready` still answers; otherwise a message with the end of its log.
/// A test against a third-party server checks it at its end, before its directory (and the log)
/// is removed, so a server that stopped mid-test under load says why instead of leaving only
/// failed steps behind.
public func stoppedServerReport(_ ready: URL, name: String, log: String) async throws -> String? {
    if try await waitUntilReady(ready, timeout: .seconds(5)) { return nil }
    return "\(name) stopped answering during the test; the end of its log:\n\(logTail(log))"
}

/// Runs the tests `filter` selects in a child process of this test binary, alone, with
/// `environmentKey` set so they know they are the child (`.enabled(if:)` on it): for checks that
/// read process-wide measures (peak memory, the cooperative pool's threads) other suites running
/// in parallel would disturb.
public func runAloneInChildProcess(filter: String, environmentKey: String) async throws -> CompletedProcess {
    try await runToCompletion(
        CommandLine.arguments[0], ["--testing-library", "swift-testing", "--filter", filter],
        environment: ProcessInfo.processInfo.environment.merging([environmentKey: "1"]) { _, new in new }
    )
}

/// The start of an nginx configuration for a test instance under `prefix`: one worker in the
/// foreground, its pid, logs and temporary files in `prefix`, no access log. The caller adds its
/// `http` block's servers and closes the block.
public func nginxConfigurationHead(prefix: String) -> String {
    """
    worker_processes 1;
    daemon off;
    master_process off;
    pid \(prefix)/nginx.pid;
    error_log \(prefix)/error.log;
    events { worker_connections 1024; }
    http {
        access_log off;
        client_body_temp_path \(prefix)/body;
        proxy_temp_path \(prefix)/proxy;
        fastcgi_temp_path \(prefix)/fastcgi;
        uwsgi_temp_path \(prefix)/uwsgi;
        scgi_temp_path \(prefix)/scgi;

    """
}
