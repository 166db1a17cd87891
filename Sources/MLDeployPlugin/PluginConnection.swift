import Foundation
import Logging
import MLDeploy
import ServiceRuntime
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// One running plugin process and the calls in flight to it.
///
/// The process runs in a process group of its own, so ending it ends everything it started. Its
/// standard output is read on a thread of its own (the runtime's pipe reader) and parsed into
/// messages; answers resume the calls waiting for them by id. Standard error is forwarded line by
/// line to the host's logger and its tail kept for error messages. A sweeper fails calls whose
/// deadline passed, and tells the plugin to cancel them.
final class PluginConnection: Sendable {
    private struct Pending {
        var continuation: CheckedContinuation<PluginMessage, any Error>
        var deadline: ContinuousClock.Instant
        var method: String
    }

    private struct State {
        var nextID = 0
        var pending: [Int: Pending] = [:]
        /// Answers that arrived before their caller started waiting.
        var early: [Int: PluginMessage] = [:]
        /// Calls cancelled before their caller started waiting.
        var abandoned: Set<Int> = []
        var processID: pid_t?
        var exited = false
        /// The process closed its standard output: nothing more will be answered.
        var outputClosed = false
        var failure: String?
        var stderrTail: [UInt8] = []
        var stderrLine: [UInt8] = []
    }

    let plugin: PluginDiscovery.Plugin
    private let logger: Logger
    private let writer: PipeWriter
    private let state = Mutex(State())
    private let process = Mutex<Task<Void, Never>?>(nil)

    private init(plugin: PluginDiscovery.Plugin, logger: Logger, writer: PipeWriter) {
        self.plugin = plugin
        self.logger = logger
        self.writer = writer
    }

    /// Starts the plugin's process. It is not talked to yet: the caller sends the handshake.
    static func start(_ plugin: PluginDiscovery.Plugin, logger: Logger) throws -> PluginConnection {
        let input = try WorkerPipe.make(hostWrites: true)
        let output = try WorkerPipe.make(hostWrites: false)
        let errors = try WorkerPipe.make(hostWrites: false)
        let connection = PluginConnection(plugin: plugin, logger: logger, writer: PipeWriter(input.host, name: "mldeploy-plugin-stdin"))
        let task = Task.detached { await connection.drive(input: input, output: output, errors: errors) }
        connection.process.withLock { $0 = task }
        Task.detached { await connection.sweep() }
        return connection
    }

    /// Whether the process is gone (or was found to speak something else).
    var hasExited: Bool { self.state.withLock { $0.exited } }

    /// Whether new calls can go to this process: it has not exited, closed its output or broken the
    /// protocol, and the kernel does not report it dead (checked without reaping it, so a process
    /// killed a moment ago is noticed before its pipes are).
    var isUsable: Bool {
        let (gone, pid) = self.state.withLock { ($0.exited || $0.outputClosed || $0.failure != nil, $0.processID) }
        guard !gone else { return false }
        guard let pid else { return true }  // still starting
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == 0
    }

    /// A request that never reached the plugin (its input was closed): the caller may start the
    /// plugin again and send it there.
    struct NotDelivered: Error {
        var failure: MLDeployError
    }

    /// The process id, once spawned.
    var processID: pid_t? { self.state.withLock { $0.processID } }

    /// The last few kilobytes of the plugin's standard error.
    var stderrTail: String {
        String(decoding: self.state.withLock { $0.stderrTail }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends a request and waits for its answer.
    ///
    /// - Returns: The `result` and the answer's attachments.
    /// - Throws: The framework error the plugin answered with; ``MLDeploy/MLDeployError/Code/pluginFailed``
    ///   when the plugin is gone, breaks the protocol or misses `timeout`;
    ///   ``MLDeploy/MLDeployError/Code/cancelled`` when the calling task is cancelled.
    func call(_ method: String, _ params: JSONValue, attachments: [[UInt8]] = [], timeout: Duration) async throws -> (JSONValue, [[UInt8]]) {
        do {
            return try await self.exchange(method, params, attachments: attachments, timeout: timeout)
        } catch let undelivered as NotDelivered {
            throw undelivered.failure
        }
    }

    /// ``call(_:_:attachments:timeout:)``, except that a request the plugin never received throws
    /// ``NotDelivered``, so the caller can send it to a fresh process.
    func exchange(_ method: String, _ params: JSONValue, attachments: [[UInt8]] = [], timeout: Duration) async throws -> (JSONValue, [[UInt8]]) {
        let id: Int = try self.state.withLock { state in
            guard !state.exited else { throw self.failure(state, doing: method) }
            state.nextID += 1
            return state.nextID
        }
        do {
            try await self.writer.write(try PluginMessage.request(id: id, method: method, params: params, attachments: attachments).encoded())
        } catch {
            throw NotDelivered(failure: self.state.withLock { self.failure($0, doing: method) })
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let answer = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PluginMessage, any Error>) in
                let outcome: Result<PluginMessage, any Error>? = self.state.withLock { state in
                    if let early = state.early.removeValue(forKey: id) { return .success(early) }
                    if state.abandoned.remove(id) != nil { return .failure(Self.cancelled(method)) }
                    if state.exited { return .failure(self.failure(state, doing: method)) }
                    state.pending[id] = Pending(continuation: continuation, deadline: deadline, method: method)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiting = self.state.withLock { state -> Pending? in
                if let pending = state.pending.removeValue(forKey: id) { return pending }
                state.abandoned.insert(id)
                return nil
            }
            waiting?.continuation.resume(throwing: Self.cancelled(method))
            self.notifyCancel(id)
        }
        if let error = answer.json["error"] {
            throw PluginWire.error(error, plugin: self.plugin.name)
        }
        return (answer.json["result"] ?? .null, answer.attachments)
    }

    /// Ends the process: closes its input (a well-behaved plugin exits), waits up to `grace`, then
    /// ends its whole process group (SIGTERM, then SIGKILL a second later) and waits for it.
    func terminate(grace: Duration = .seconds(2)) async {
        self.writer.close()
        let task = self.process.withLock { $0 }
        if await !Self.finishes(task, within: grace) {
            self.signalGroup(SIGTERM)
            if await !Self.finishes(task, within: .seconds(1)) { self.signalGroup(SIGKILL) }
        }
        // Whatever the plugin started and left behind in its group goes too.
        self.signalGroup(SIGKILL)
        await task?.value
    }

    /// Kills the process group at once.
    func kill() {
        self.signalGroup(SIGKILL)
        self.writer.close()
    }

    // MARK: The process

    private func drive(input: WorkerPipe, output: WorkerPipe, errors: WorkerPipe) async {
        var reading = false
        var reason: String
        do {
            var options = PlatformOptions()
            options.processGroupID = 0  // a group of its own, led by the plugin
            let result = try await Subprocess.run(
                .path(FilePath(self.plugin.path)),
                platformOptions: options,
                input: .fileDescriptor(FileDescriptor(rawValue: input.worker), closeAfterSpawningProcess: true),
                output: .fileDescriptor(FileDescriptor(rawValue: output.worker), closeAfterSpawningProcess: true),
                error: .fileDescriptor(FileDescriptor(rawValue: errors.worker), closeAfterSpawningProcess: true)
            ) { execution in
                self.state.withLock { $0.processID = execution.processIdentifier.value }
                reading = true
                let standardError = PipeReader.chunks(of: errors.host, name: "mldeploy-plugin-stderr")
                async let logging: Void = {
                    for await bytes in standardError { self.log(bytes) }
                    self.log([10])  // flush a last line without a newline
                }()
                // Answers are parsed and delivered on the reader thread itself: the waiting call
                // resumes with one wake-up, not a hop through a task of this connection's.
                let (ended, end) = AsyncStream<Void>.makeStream()
                let parser = PluginMessageParser()
                PipeReader.forEachChunk(of: output.host, name: "mldeploy-plugin-stdout", { chunk in
                    switch parser.parse(chunk) {
                    case .messages(let messages):
                        for message in messages { self.deliver(message) }
                    case .broken(let messages, let excerpt):
                        for message in messages { self.deliver(message) }
                        self.brokeProtocol("wrote something that is not a plugin protocol message to its standard output: '\(excerpt)'")
                    case .ignored:
                        break
                    }
                }, end: {
                    self.state.withLock { $0.outputClosed = true }
                    end.finish()
                })
                for await _ in ended {}
                self.writer.close()
                _ = await logging
            }
            reason = Self.describe(result.terminationStatus)
        } catch {
            if !reading {
                close(output.host)
                close(errors.host)
            }
            reason = "could not be started: \(error)"
        }
        self.finish(reason)
    }

    private func deliver(_ message: PluginMessage) {
        guard let id = message.id, message.method == nil else { return }  // notifications: none defined for the host
        let waiting = self.state.withLock { state -> Pending? in
            if let pending = state.pending.removeValue(forKey: id) { return pending }
            if state.abandoned.remove(id) == nil { state.early[id] = message }
            return nil
        }
        waiting?.continuation.resume(returning: message)
    }

    private func brokeProtocol(_ what: String) {
        self.state.withLock { state in
            if state.failure == nil { state.failure = what }
        }
        self.signalGroup(SIGKILL)
    }

    private func finish(_ reason: String) {
        let waiting = self.state.withLock { state -> [Pending] in
            state.exited = true
            if state.failure == nil { state.failure = "exited (\(reason))" }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        self.writer.close()
        for pending in waiting {
            pending.continuation.resume(throwing: self.state.withLock { self.failure($0, doing: pending.method) })
        }
    }

    /// Fails calls whose deadline passed; runs until the process is gone. It wakes at the earliest
    /// deadline of the calls in flight, and at least four times a second.
    private func sweep() async {
        while !self.hasExited {
            let earliest = self.state.withLock { $0.pending.values.map(\.deadline).min() }
            let pause = min(max((earliest ?? .now + .seconds(1)) - .now, .milliseconds(10)), .milliseconds(250))
            try? await Task.sleep(for: pause)
            let now = ContinuousClock.now
            let overdue = self.state.withLock { state -> [(Int, Pending)] in
                let late = state.pending.filter { $0.value.deadline <= now }
                for (id, _) in late { state.pending[id] = nil }
                return late.map { ($0.key, $0.value) }
            }
            for (id, pending) in overdue {
                pending.continuation.resume(throwing: MLDeployError(
                    code: .pluginFailed,
                    message: "The \(self.plugin.name) plugin (\(self.plugin.path)) did not answer \(pending.method) in time; it was asked to cancel it.\(self.tailNote)"
                ))
                self.notifyCancel(id)
            }
        }
    }

    private func notifyCancel(_ id: Int) {
        guard let bytes = try? PluginMessage.notification(method: "$/cancelRequest", params: ["id": .integer(id)]).encoded() else { return }
        Task { try? await self.writer.write(bytes) }
    }

    // MARK: Logs and errors

    private func log(_ bytes: [UInt8]) {
        let lines = self.state.withLock { state -> [String] in
            state.stderrTail += bytes
            if state.stderrTail.count > 8192 { state.stderrTail.removeFirst(state.stderrTail.count - 8192) }
            var lines: [String] = []
            for byte in bytes {
                if byte == 10 {
                    if !state.stderrLine.isEmpty { lines.append(String(decoding: state.stderrLine, as: UTF8.self)) }
                    state.stderrLine.removeAll(keepingCapacity: true)
                } else if state.stderrLine.count < 16384 {
                    state.stderrLine.append(byte)
                }
            }
            return lines
        }
        for line in lines {
            let (level, text) = Self.level(of: line)
            self.logger.log(level: level, "\(text)", metadata: ["plugin": "\(self.plugin.name)"])
        }
    }

    /// The level a plugin's log line asks for: `warning: …` (the protocol's form) or swift-log's
    /// default `<timestamp> warning <label>: …`; `info` otherwise.
    static func level(of line: String) -> (Logger.Level, String) {
        let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        if let first = words.first, first.hasSuffix(":"), let level = Logger.Level(rawValue: String(first.dropLast()).lowercased()) {
            return (level, String(line.dropFirst(first.count)).trimmingCharacters(in: .whitespaces))
        }
        if words.count >= 2, let level = Logger.Level(rawValue: String(words[1]).lowercased()) {
            return (level, line)
        }
        return (.info, line)
    }

    /// " Its standard error ends with: …" (its last twelve lines), or nothing when it wrote none:
    /// what every `plugin-failed` message quotes.
    var tailNote: String {
        Self.tailNote(self.state.withLock { $0.stderrTail })
    }

    private static func tailNote(_ bytes: [UInt8]) -> String {
        let tail = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !tail.isEmpty else { return "" }
        return " Its standard error ends with:\n" + tail.split(separator: "\n").suffix(12).joined(separator: "\n")
    }

    private func failure(_ state: State, doing method: String) -> MLDeployError {
        let what = state.failure ?? "stopped"
        return MLDeployError(code: .pluginFailed, message: "The \(self.plugin.name) plugin (\(self.plugin.path)) \(what) during \(method).\(Self.tailNote(state.stderrTail))")
    }

    private static func cancelled(_ method: String) -> MLDeployError {
        MLDeployError(code: .cancelled, message: "\(method) was cancelled; the plugin was told to stop it.")
    }

    private func signalGroup(_ signal: Int32) {
        guard let pid = self.processID, pid > 0 else { return }
        Foundation.kill(-pid, signal)
    }

    /// Whether `task` finishes within `limit` (it keeps running either way).
    private static func finishes(_ task: Task<Void, Never>?, within limit: Duration) async -> Bool {
        guard let task else { return true }
        final class Once: Sendable {
            let continuation: Mutex<CheckedContinuation<Bool, Never>?>
            init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = Mutex(continuation) }
            func resume(_ value: Bool) { self.continuation.withLock { $0.take() }?.resume(returning: value) }
        }
        return await withCheckedContinuation { continuation in
            let once = Once(continuation)
            Task { await task.value; once.resume(true) }
            Task { try? await Task.sleep(for: limit); once.resume(false) }
        }
    }

    private static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}
