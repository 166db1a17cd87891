import Foundation
import Metrics
import Logging
import MLDeploy
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// One `python3` process running the worker script, driven over its stdin/stdout with
/// ``WorkerFrame``s. It serves one service version and one call at a time; the pool decides which.
///
/// The process runs inside swift-subprocess's `run`, in a task the worker owns. Exchanges are queued
/// to that task; if the process dies, the exchange in flight fails with the exit reason (status or
/// signal, and the tail of what the process wrote to stderr before the script took over its output).
final class PythonWorker: Sendable {
    fileprivate struct Exchange: Sendable {
        let frame: WorkerFrame
        let continuation: CheckedContinuation<WorkerFrame, any Error>
        /// Increasing per worker: which exchange a timeout belongs to.
        let serial: Int
    }

    fileprivate struct State {
        var processID: pid_t?
        var exited = false
        var killedForTimeout = false
        var nextSerial = 0
        /// The serial of the last exchange whose answer was delivered.
        var answeredSerial = 0
        var stderrTail: [UInt8] = []
        var inFlight: Exchange?
        var queue: [Exchange] = []
        var waiter: CheckedContinuation<Exchange?, Never>?
        var closed = false
    }

    /// What the worker and its process task share; created before the task starts. Exchanges pass
    /// through a single-consumer queue: the process task takes them one at a time.
    fileprivate final class Shared: Sendable {
        let state = Mutex(State())

        func submit(_ exchange: Exchange) {
            enum Outcome { case handed(CheckedContinuation<Exchange?, Never>), queued, refused }
            let outcome: Outcome = self.state.withLock { state in
                if state.closed || state.exited { return .refused }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return .handed(waiter)
                }
                state.queue.append(exchange)
                return .queued
            }
            switch outcome {
            case .handed(let waiter): waiter.resume(returning: exchange)
            case .queued: break
            case .refused: exchange.continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: "The Python worker has exited."))
            }
        }

        func next() async -> Exchange? {
            await withCheckedContinuation { continuation in
                enum Outcome { case take(Exchange), end, wait }
                let outcome: Outcome = self.state.withLock { state in
                    if !state.queue.isEmpty { return .take(state.queue.removeFirst()) }
                    if state.closed { return .end }
                    state.waiter = continuation
                    return .wait
                }
                switch outcome {
                case .take(let exchange): continuation.resume(returning: exchange)
                case .end: continuation.resume(returning: nil)
                case .wait: break
                }
            }
        }

        /// No more exchanges: the consumer's wait ends, and queued ones fail with `reason`.
        func close(failing reason: String? = nil) {
            let (waiter, leftovers) = self.state.withLock { state -> (CheckedContinuation<Exchange?, Never>?, [Exchange]) in
                state.closed = true
                defer {
                    state.waiter = nil
                    if reason != nil { state.queue = [] }
                }
                return (state.waiter, reason == nil ? [] : state.queue)
            }
            waiter?.resume(returning: nil)
            for exchange in leftovers {
                exchange.continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: reason!))
            }
        }
    }

    /// A number identifying the worker in logs and status.
    let id: Int
    /// How the worker was started: its command, and the paths it works in.
    let launch: WorkerLaunch
    /// When the worker was started.
    let started = ContinuousClock.now
    private let shared: Shared
    private let process: Task<Void, Never>


    private init(id: Int, launch: WorkerLaunch, shared: Shared, process: Task<Void, Never>) {
        self.id = id
        self.launch = launch
        self.shared = shared
        self.process = process
    }

    /// Starts a worker and waits for its `ready` message.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` when the interpreter cannot
    ///   be started or does not answer within `startupTimeout`.
    static func start(id: Int, launch: WorkerLaunch, configuration: PythonRuntime.Configuration) async throws -> PythonWorker {
        let shared = Shared()
        let ready = AsyncStream<Result<WorkerFrame, any Error>>.makeStream()
        let process = Task {
            await PythonWorker.drive(launch: launch, configuration: configuration, shared: shared, ready: ready.continuation)
        }
        let worker = PythonWorker(id: id, launch: launch, shared: shared, process: process)

        let timeout = Task {
            try await Task.sleep(for: configuration.startupTimeout)
            ready.continuation.yield(.failure(MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "The Python interpreter '\(configuration.interpreter)' did not start a worker within \(configuration.startupTimeout)."
            )))
        }
        defer { timeout.cancel() }
        var iterator = ready.stream.makeAsyncIterator()
        guard let first = await iterator.next() else {
            worker.kill()  // the caller was cancelled: the half-started process must not linger
            throw MLDeployError(code: .pythonRuntimeUnavailable, message: "The Python worker stopped before it was ready.")
        }
        switch first {
        case .success:
            return worker
        case .failure(let error):
            worker.kill()
            throw error
        }
    }

    /// The process's id, once running.
    var processID: pid_t? { self.shared.state.withLock { $0.processID } }

    /// Whether the process has exited.
    var hasExited: Bool { self.shared.state.withLock { $0.exited } }

    /// Sends a frame and waits for the answer, killing the worker if it takes longer than `timeout`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/timeout`` (the worker was killed),
    ///   ``MLDeploy/MLDeployError/Code/workerCrashed`` (the worker died, with its exit reason).
    func exchange(_ frame: WorkerFrame, timeout: Duration?) async throws -> WorkerFrame {
        let serial = self.shared.state.withLock { state -> Int in
            state.nextSerial += 1
            return state.nextSerial
        }
        let killer: Task<Void, Never>? = timeout.map { limit in
            Task { [self] in
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                // Only while this exchange is unanswered: on a loaded machine the answer can arrive
                // just before the limit and its caller resume just after, and killing then would
                // leave a dead worker idle in the pool (or kill the next call's exchange).
                let overdue = self.shared.state.withLock { state -> Bool in
                    guard state.answeredSerial < serial, !state.exited else { return false }
                    state.killedForTimeout = true
                    return true
                }
                if overdue { self.kill() }
            }
        }
        defer { killer?.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            if self.hasExited {
                continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: "The Python worker has already exited."))
                return
            }
            self.shared.submit(Exchange(frame: frame, continuation: continuation, serial: serial))
        }
    }

    /// Asks the worker to exit once its current exchange is done.
    func stop() {
        self.shared.close()
    }

    /// Kills the process at once (SIGKILL); an exchange in flight fails.
    func kill() {
        if let pid = self.processID, !self.hasExited {
            Foundation.kill(pid, SIGKILL)
        }
        self.shared.close()
    }

    /// Waits until the process has exited.
    func waitUntilExited() async {
        await self.process.value
    }

    // MARK: The process task

    private static func drive(
        launch: WorkerLaunch,
        configuration: PythonRuntime.Configuration,
        shared: Shared,
        ready: AsyncStream<Result<WorkerFrame, any Error>>.Continuation
    ) async {
        var readySent = false
        do {
            // The runtime's own pipes (see ``WorkerPipe`` for why): the worker's ends go to the
            // process at spawn and are closed there; the host's are read and written off the pool.
            let input = try WorkerPipe.make(hostWrites: true)
            let output = try WorkerPipe.make(hostWrites: false)
            let errors = try WorkerPipe.make(hostWrites: false)
            let writer = PipeWriter(input.host)
            defer { writer.close() }
            let result: ExecutionResult<Void, FileDescriptorOutput, FileDescriptorOutput>
            var reading = false  // once the readers run, they close the host's read ends
            do {
                result = try await Subprocess.run(
                    launch.executable.contains("/") ? .path(FilePath(launch.executable)) : .name(launch.executable),
                    arguments: Arguments(launch.arguments),
                    environment: launch.environment,
                    input: .fileDescriptor(FileDescriptor(rawValue: input.worker), closeAfterSpawningProcess: true),
                    output: .fileDescriptor(FileDescriptor(rawValue: output.worker), closeAfterSpawningProcess: true),
                    error: .fileDescriptor(FileDescriptor(rawValue: errors.worker), closeAfterSpawningProcess: true)
                ) { execution in
                    shared.state.withLock { $0.processID = execution.processIdentifier.value }
                    reading = true
                    // The readers start once the worker holds its ends, so end of file means the
                    // worker's processes are gone.
                    let standardOutput = PipeReader.chunks(of: output.host, name: "mldeploy-worker-stdout")
                    let standardError = PipeReader.chunks(of: errors.host, name: "mldeploy-worker-stderr")
                    // The worker keeps its original stderr open until it exits, so the end of this
                    // stream is the process's end: stop waiting for exchanges then.
                    async let stderrTail: Void = {
                        for await bytes in standardError {
                            shared.state.withLock { state in
                                state.stderrTail.append(contentsOf: bytes)
                                if state.stderrTail.count > 8192 { state.stderrTail.removeFirst(state.stderrTail.count - 8192) }
                            }
                        }
                        shared.close()  // end of file: the process is gone
                    }()
                    var frames = WorkerFrameReader()
                    var chunks = standardOutput.makeAsyncIterator()
                    func nextFrame() async throws -> WorkerFrame? {
                        while true {
                            if let frame = try frames.next() { return frame }
                            guard let chunk = await chunks.next() else { return nil }
                            chunk.withUnsafeBytes { frames.append($0) }
                        }
                    }
                    guard let hello = try await nextFrame() else { _ = await stderrTail; return }
                    Counter(label: "mldeploy_python_worker_starts_total").increment()
                    readySent = true
                    ready.yield(.success(hello))
                    while let exchange = await shared.next() {
                        shared.state.withLock { $0.inFlight = exchange }
                        do {
                            try await writer.write(try exchange.frame.encoded())
                        } catch let error as MLDeployError where error.code == .workerCrashed {
                            break  // the process is gone: the exit reason fails the exchange below
                        }
                        guard let answer = try await nextFrame() else { break }
                        shared.state.withLock { state in
                            state.inFlight = nil
                            state.answeredSerial = exchange.serial
                        }
                        exchange.continuation.resume(returning: answer)
                    }
                    writer.close()
                    // Read stdout to its end (the worker exits on end of input), so the process is
                    // gone before `run` waits for it.
                    while await chunks.next() != nil {}
                    _ = await stderrTail
                }
            } catch {
                // Not spawned: the host's read ends are closed here (the worker's, by the spawner).
                if !reading {
                    close(output.host)
                    close(errors.host)
                }
                throw error
            }
            Self.finish(shared: shared, ready: ready, readySent: readySent, configuration: configuration, reason: Self.describe(result.terminationStatus, confined: launch.confined))
        } catch {
            Self.finish(shared: shared, ready: ready, readySent: readySent, configuration: configuration, reason: "could not run: \(error)")
        }
    }

    /// The process is gone: fail what still waits, with the exit reason.
    private static func finish(
        shared: Shared,
        ready: AsyncStream<Result<WorkerFrame, any Error>>.Continuation,
        readySent: Bool,
        configuration: PythonRuntime.Configuration,
        reason: String
    ) {
        let (inFlight, timedOut, tail) = shared.state.withLock { state -> (Exchange?, Bool, String) in
            state.exited = true
            defer { state.inFlight = nil }
            return (state.inFlight, state.killedForTimeout, String(decoding: state.stderrTail, as: UTF8.self))
        }
        // Exchanges queued after the last one was taken never reached the worker.
        shared.close(failing: "The Python worker exited (\(reason)) before the call started.")
        let detail = tail.isEmpty ? "" : "\n" + tail.trimmingCharacters(in: .whitespacesAndNewlines)
        if !readySent {
            ready.yield(.failure(MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "The Python interpreter '\(configuration.interpreter)' did not start a worker (\(reason)).\(detail) Set MLDEPLOY_PYTHON to a Python 3 interpreter."
            )))
        }
        ready.finish()
        if let inFlight {
            if timedOut {
                Counter(label: "mldeploy_python_call_timeouts_total").increment()
                inFlight.continuation.resume(throwing: MLDeployError(code: .timeout, message: "The call did not finish in time; its worker was killed and will be replaced."))
            } else {
                Counter(label: "mldeploy_python_worker_crashes_total").increment()
                inFlight.continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: "The Python worker died (\(reason)) during the call; it will be replaced.\(detail)"))
            }
        }
    }

    /// Why the process ended. A confined worker's exit status is bubblewrap's, which reports its
    /// child's death by signal N as status 128 + N, as a shell does.
    private static func describe(_ status: TerminationStatus, confined: Bool) -> String {
        func killed(by signal: Int32) -> String {
            let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGTERM: "SIGTERM", SIGBUS: "SIGBUS", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ"]
            return "killed by \(names[signal] ?? "signal \(signal)")"
        }
        switch status {
        case .exited(let code) where confined && code > 128 && code < 128 + 65: return killed(by: code - 128)
        case .exited(let code): return "exit status \(code)"
        case .signaled(let signal): return killed(by: signal)
        }
    }
}

/// How a worker process is started — plainly or confined (``PythonSandbox``) — and the paths it
/// works in, as the worker itself sees them.
struct WorkerLaunch: Sendable {
    /// The program (a path, or a name found on `PATH`).
    var executable: String
    var arguments: [String]
    var environment: Environment
    /// The working directory the worker runs calls in.
    var workdir: String
    /// The file the worker captures console output in.
    var capture: String
    /// What to remove once the worker has exited: a host working directory and console file.
    var hostFiles: [URL]
    /// The worker's cgroups, removed once it has exited.
    var cgroup: WorkerCgroup?
    /// Whether the worker runs in the sandbox (its exit status is then bubblewrap's).
    var confined: Bool
}

/// A worker's own cgroups (memory and pids), which bound its whole process tree.
struct WorkerCgroup: Sendable {
    let memory: String
    let pids: String
}
