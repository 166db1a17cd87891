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
/// A call crosses no task boundary on its way: the caller writes its frame to the worker's stdin
/// (non-blocking; a frame the pipe cannot take at once is finished by the writer's thread), and the
/// thread reading the worker's stdout resumes the caller with the answer. The thread also enforces
/// the call's time limit (it waits for output no longer than the deadline), so a call costs no timer.
/// Every hop through Swift's cooperative pool is a chance to wait behind other work on a busy
/// machine, which is what a call's tail latency is made of.
///
/// The process runs inside swift-subprocess's `run`, in a task the worker owns, which waits for it
/// to end. If the process dies, the exchange in flight fails with the exit reason (status or signal,
/// and the tail of what the process wrote to stderr before the script took over its output).
final class PythonWorker: Sendable {
    fileprivate struct Exchange: Sendable {
        let bytes: [UInt8]
        let continuation: CheckedContinuation<WorkerFrame, any Error>
        /// When the worker is killed if it has not answered.
        let deadline: ContinuousClock.Instant?
    }

    fileprivate struct State {
        var processID: pid_t?
        /// Where frames are written; set once the process runs.
        var writer: PipeWriter?
        /// Whether the worker's `ready` frame arrived.
        var ready = false
        var exited = false
        var killedForTimeout = false
        /// Why the worker was stopped for breaking the frame protocol, if it was.
        var protocolFailure: String?
        var stderrTail: [UInt8] = []
        var inFlight: Exchange?
        var queue: [Exchange] = []
        var closed = false
    }

    /// What the worker, its process task and its output thread share. Exchanges run one at a time:
    /// one in flight, the rest queued (a worker is lent to one call at a time, so the queue is used
    /// only by the syntax checker's concurrent checks).
    fileprivate final class Shared: Sendable {
        let state = Mutex(State())

        func submit(_ exchange: Exchange) {
            enum Outcome { case send(PipeWriter), queued, refused }
            let outcome: Outcome = self.state.withLock { state in
                if state.closed || state.exited { return .refused }
                if state.inFlight == nil, state.ready, let writer = state.writer {
                    state.inFlight = exchange
                    return .send(writer)
                }
                state.queue.append(exchange)
                return .queued
            }
            switch outcome {
            case .send(let writer): self.send(exchange, to: writer)
            case .queued: break
            case .refused: exchange.continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: "The Python worker has exited."))
            }
        }

        /// Writes an exchange's frame. A worker that no longer reads its input is killed: its exit
        /// (with the reason) fails the exchange.
        private func send(_ exchange: Exchange, to writer: PipeWriter) {
            writer.send(exchange.bytes) { [self] failure in
                guard failure != nil else { return }
                if let pid = self.state.withLock({ $0.exited ? nil : $0.processID }) { Foundation.kill(pid, SIGKILL) }
            }
        }

        /// Output thread: the worker said it is ready; queued exchanges start.
        func becameReady() {
            self.startNext { state in state.ready = true }
        }

        /// Output thread: the answer to the exchange in flight; the next queued one starts.
        func answered(_ frame: WorkerFrame) {
            var answered: Exchange?
            self.startNext { state in
                answered = state.inFlight
                state.inFlight = nil
            }
            answered?.continuation.resume(returning: frame)
        }

        /// Applies `change`, then starts the next queued exchange if none is in flight, or ends the
        /// worker's input if it was closed and nothing is left.
        private func startNext(after change: (inout State) -> Void) {
            enum Next { case send(Exchange, PipeWriter), endInput(PipeWriter), nothing }
            let next: Next = self.state.withLock { state in
                change(&state)
                guard state.inFlight == nil, state.ready, !state.exited, let writer = state.writer else { return .nothing }
                if !state.queue.isEmpty {
                    let exchange = state.queue.removeFirst()
                    state.inFlight = exchange
                    return .send(exchange, writer)
                }
                return state.closed ? .endInput(writer) : .nothing
            }
            switch next {
            case .send(let exchange, let writer): self.send(exchange, to: writer)
            case .endInput(let writer): writer.close()
            case .nothing: break
            }
        }

        /// Output thread: how long to wait for output before checking the deadline again —
        /// until the deadline of the exchange in flight, else a short tick (an exchange may start
        /// meanwhile, and its deadline is then checked within the tick). Once the worker was
        /// killed for its deadline, the tick again: the output ends when the last process holding
        /// it is gone, which can take a moment, and the thread must not spin meanwhile.
        func pollTimeout() -> Int32 {
            let deadline = self.state.withLock { $0.killedForTimeout ? nil : $0.inFlight?.deadline }
            guard let deadline else { return 250 }
            let (seconds, attoseconds) = (deadline - .now).components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
            return Int32(max(0, min(milliseconds, 250)))
        }

        /// Output thread: kills the worker if the exchange in flight is past its deadline.
        func enforceDeadline() {
            let overdue: pid_t? = self.state.withLock { state in
                guard let deadline = state.inFlight?.deadline, deadline <= .now, !state.exited, !state.killedForTimeout else { return nil }
                state.killedForTimeout = true
                return state.processID
            }
            if let overdue { Foundation.kill(overdue, SIGKILL) }
        }

        /// Output thread: the worker wrote something that is not a frame; it is killed, and the
        /// exchange in flight fails with `reason`.
        func brokeProtocol(_ reason: String) {
            let pid: pid_t? = self.state.withLock { state in
                if state.protocolFailure == nil { state.protocolFailure = reason }
                return state.exited ? nil : state.processID
            }
            if let pid { Foundation.kill(pid, SIGKILL) }
        }

        /// No more exchanges: the worker's input ends once the one in flight is answered (queued
        /// ones still run, unless `reason` fails them).
        func close(failing reason: String? = nil) {
            let (leftovers, endInput): ([Exchange], PipeWriter?) = self.state.withLock { state in
                state.closed = true
                let leftovers = reason == nil ? [] : state.queue
                if reason != nil { state.queue = [] }
                let idle = state.inFlight == nil && state.queue.isEmpty
                return (leftovers, idle ? state.writer : nil)
            }
            endInput?.close()
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
        let bytes = try frame.encoded()
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return try await withCheckedThrowingContinuation { continuation in
            self.shared.submit(Exchange(bytes: bytes, continuation: continuation, deadline: deadline))
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
                    shared.state.withLock { state in
                        state.processID = execution.processIdentifier.value
                        state.writer = writer
                    }
                    reading = true
                    // The readers start once the worker holds its ends, so end of file means the
                    // worker's processes are gone.
                    let (outputEnded, endOutput) = AsyncStream<Void>.makeStream()
                    Self.readFrames(from: output.host, shared: shared, ready: ready, end: { endOutput.finish() })
                    let standardError = PipeReader.chunks(of: errors.host, name: "mldeploy-worker-stderr")
                    // The worker keeps its original stderr open until it exits, so the end of this
                    // stream is the process's end: no more exchanges then.
                    for await bytes in standardError {
                        shared.state.withLock { state in
                            state.stderrTail.append(contentsOf: bytes)
                            if state.stderrTail.count > 8192 { state.stderrTail.removeFirst(state.stderrTail.count - 8192) }
                        }
                    }
                    shared.close()
                    for await _ in outputEnded {}
                }
            } catch {
                // Not spawned: the host's read ends are closed here (the worker's, by the spawner).
                if !reading {
                    close(output.host)
                    close(errors.host)
                }
                throw error
            }
            Self.finish(shared: shared, ready: ready, configuration: configuration, reason: Self.describe(result.terminationStatus, confined: launch.confined))
        } catch {
            Self.finish(shared: shared, ready: ready, configuration: configuration, reason: "could not run: \(error)")
        }
    }

    /// The process is gone: fail what still waits, with the exit reason.
    private static func finish(
        shared: Shared,
        ready: AsyncStream<Result<WorkerFrame, any Error>>.Continuation,
        configuration: PythonRuntime.Configuration,
        reason: String
    ) {
        let (inFlight, timedOut, readySent, protocolFailure, tail) = shared.state.withLock { state in
            state.exited = true
            defer { state.inFlight = nil }
            return (state.inFlight, state.killedForTimeout, state.ready, state.protocolFailure, String(decoding: state.stderrTail, as: UTF8.self))
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
            if let protocolFailure {
                inFlight.continuation.resume(throwing: MLDeployError(code: .invalidResponse, message: "\(protocolFailure) The worker was stopped and will be replaced."))
            } else if timedOut {
                Counter(label: "mldeploy_python_call_timeouts_total").increment()
                inFlight.continuation.resume(throwing: MLDeployError(code: .timeout, message: "The call did not finish in time; its worker was killed and will be replaced."))
            } else {
                Counter(label: "mldeploy_python_worker_crashes_total").increment()
                inFlight.continuation.resume(throwing: MLDeployError(code: .workerCrashed, message: "The Python worker died (\(reason)) during the call; it will be replaced.\(detail)"))
            }
        }
    }

    /// Reads the worker's stdout on a thread of its own until end of file: the `ready` frame, then
    /// each answer, handed straight to its caller; kills the worker when the exchange in flight
    /// passes its deadline. Closes the descriptor, then calls `end`.
    private static func readFrames(
        from descriptor: Int32,
        shared: Shared,
        ready: AsyncStream<Result<WorkerFrame, any Error>>.Continuation,
        end: @escaping @Sendable () -> Void
    ) {
        let thread = Thread {
            var frames = WorkerFrameReader()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var greeted = false
            reading: while true {
                var output = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let polled = poll(&output, 1, shared.pollTimeout())
                if polled == 0 || (polled < 0 && errno == EINTR) {
                    shared.enforceDeadline()
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }  // end of file, or an error: nothing more comes
                frames.append(buffer[0..<count])
                do {
                    while let frame = try frames.next() {
                        if greeted {
                            shared.answered(frame)
                        } else {
                            greeted = true
                            Counter(label: "mldeploy_python_worker_starts_total").increment()
                            shared.becameReady()
                            ready.yield(.success(frame))
                        }
                    }
                } catch {
                    shared.brokeProtocol("The Python worker wrote output that is not a frame (\(error)).")
                    // Its output is drained to the end, unread, so the worker is not blocked writing.
                    while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
                    break reading
                }
            }
            close(descriptor)
            end()
        }
        thread.name = "mldeploy-worker-stdout"
        thread.stackSize = 1 << 20
        thread.start()
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
