import CCurl
import CCurlShims
import Foundation
import MLDeploy
import Synchronization

/// A thread that drives libcurl's multi interface for an ``HTTPClient`` (a client has
/// ``HTTPClient/Configuration/loopThreads`` of them; each request runs on one).
///
/// Tasks never call libcurl: they hand transfers to the loop and suspend. The loop adds them to the
/// multi handle, runs `curl_multi_perform`, collects finished transfers, resumes their tasks, and
/// sleeps in `curl_multi_poll` until a socket is ready or a task wakes it. Easy handles are kept in
/// a pool and reused; connections are kept alive in the multi handle's cache (HTTP/1.1 keep-alive,
/// HTTP/2 multiplexing).
///
/// The loop is also a task executor (``HTTPClient/withLoopExecutor(_:)``): a task that prefers it
/// runs its code on the loop thread, between transfers. Its request then resumes where the
/// response arrived — no other thread is woken to continue the caller, and its next request is
/// handed to a loop that is already running.
final class CurlLoop: TaskExecutor, Sendable {
    private enum Command {
        case start(CurlTransfer)
        case cancel(CurlTransfer, any Error)
        case resume(CurlTransfer)
        /// A job of a task that prefers this loop as its executor.
        case run(UnownedJob)
        case shutdown(CheckedContinuation<Void, Never>)
    }

    /// The loop the current task runs on as its executor (``HTTPClient/withLoopExecutor(_:)``); its
    /// requests go to that loop, so their answers resume it on its own thread.
    @TaskLocal static var preferred: CurlLoop?

    private struct Shared {
        var commands: [Command] = []
        var sleeping = false
        var stopped = false
    }

    private nonisolated(unsafe) let multi: UnsafeMutableRawPointer
    private let shared = Mutex(Shared())
    /// How many commands wait in `shared`; read without the lock, so the loop takes the lock only
    /// when there is something to take.
    private let pending = Atomic<Int>(0)
    private let handlePoolSize: Int
    private let defaults: HandleDefaults

    /// How long the loop keeps checking for new work after finishing a transfer before it sleeps.
    /// A caller that sends its next request right after a response (the common sequential pattern)
    /// then finds the loop awake: no wake-up syscall, no context switch.
    private static let spinAfterCompletion: Duration = .microseconds(60)

    /// A loop with its share of `configuration`'s connection limits: one of `share` loops of a
    /// client, each keeping a `1/share` part of them (at least one connection).
    init(configuration: HTTPClient.Configuration, share: Int = 1) {
        _ = CurlGlobal.initialized
        self.multi = curl_multi_init()
        self.defaults = HandleDefaults(configuration)
        let parts = max(1, share)
        let maximumConnections = (configuration.maximumConnections + parts - 1) / parts
        self.handlePoolSize = max(4, maximumConnections)
        _ = mld_multi_setopt_long(self.multi, CURLMOPT_MAXCONNECTS, max(1, maximumConnections))
        if let perHost = configuration.maximumConnectionsPerHost {
            _ = mld_multi_setopt_long(self.multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, (perHost + parts - 1) / parts))
        }
        _ = mld_multi_setopt_long(self.multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        let thread = Thread { [self] in self.run() }
        thread.name = "mldeploy.curl"
        thread.start()
    }

    /// Hands a transfer to the loop.
    func start(_ transfer: CurlTransfer) {
        self.send(.start(transfer))
    }

    /// Stops a transfer, failing it with `error`. Safe to call for a transfer that already finished.
    func cancel(_ transfer: CurlTransfer, with error: any Error) {
        transfer.cancelRequested.store(true, ordering: .releasing)
        self.send(.cancel(transfer, error))
    }

    /// Resumes a transfer paused by a full (download) or empty (upload) buffer.
    func resume(_ transfer: CurlTransfer) {
        self.send(.resume(transfer))
    }

    /// Runs a job of a task that prefers this loop, on the loop thread.
    func enqueue(_ job: consuming ExecutorJob) {
        self.send(.run(UnownedJob(job)))
    }

    /// Cancels every transfer still running and stops the thread.
    func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.send(.shutdown(continuation))
        }
    }

    private func send(_ command: Command) {
        // The wake-up happens under the lock: the loop marks itself stopped under the same lock before
        // it frees the multi handle, so a wake-up can never reach a freed handle.
        let accepted: Bool = self.shared.withLock { shared in
            guard !shared.stopped else { return false }
            shared.commands.append(command)
            self.pending.add(1, ordering: .releasing)
            if shared.sleeping {
                shared.sleeping = false
                curl_multi_wakeup(self.multi)
            }
            return true
        }
        if !accepted { Self.refuse(command) }
    }

    private static func refuse(_ command: Command) {
        let closed = MLDeployError(code: .cancelled, message: "The HTTP client was shut down.")
        switch command {
        case .start(let transfer): transfer.fail(closed)
        case .cancel, .resume: break
        // A task that still prefers a stopped loop goes on running on the shared pool.
        case .run(let job): globalConcurrentExecutor.enqueue(job)
        case .shutdown(let continuation): continuation.resume()
        }
    }

    // MARK: The loop thread

    private func run() {
        // The name the system shows (top -H, perf, /proc): a thread inherits its creator's, often
        // a Dispatch worker's, and Foundation's `Thread.name` does not reach the system here.
        mld_set_thread_name("mldeploy.curl")
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        var pool: [CurlHandle] = []
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []

        /// Keeps the handle of a finished transfer for the next one (up to the pool's size).
        func recycle(_ transfer: CurlTransfer) {
            guard let handle = transfer.handle else { return }
            transfer.handle = nil
            if pool.count < self.handlePoolSize { pool.append(handle) }
        }

        var drains = 0
        // Two buffers traded under the lock: the loop takes the queued commands by swapping its
        // empty buffer in, so neither side allocates per batch.
        var commands: [Command] = []
        commands.reserveCapacity(16)
        self.shared.withLock { $0.commands.reserveCapacity(16) }
        while true {
            var ranJob = false
            if self.pending.load(ordering: .acquiring) > 0 {
                self.shared.withLock { shared in
                    self.pending.subtract(shared.commands.count, ordering: .relaxed)
                    swap(&commands, &shared.commands)
                }
            }
            for command in commands {
                switch command {
                case .start(let transfer):
                    if transfer.cancelRequested.load(ordering: .acquiring) {
                        transfer.fail(MLDeployError(code: .cancelled, message: "\(transfer.request.method) \(CurlFailure.describe(transfer.request.url)) was cancelled."))
                        continue
                    }
                    do {
                        try transfer.configure(pool.popLast() ?? CurlHandle(defaults: self.defaults))
                    } catch {
                        transfer.handle = nil  // dropped: its options are in an unknown state
                        transfer.fail(error)
                        continue
                    }
                    let easy = transfer.handle!.easy
                    active[easy] = transfer
                    curl_multi_add_handle(self.multi, easy)
                case .cancel(let transfer, let error):
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    active[easy] = nil
                    curl_multi_remove_handle(self.multi, easy)
                    transfer.fail(error)
                    recycle(transfer)
                case .resume(let transfer):
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    curl_easy_pause(easy, CURLPAUSE_CONT)
                case .run(let job):
                    job.runSynchronously(on: self.asUnownedTaskExecutor())
                    ranJob = true
                case .shutdown(let continuation):
                    shutdownWaiters.append(continuation)
                }
            }
            commands.removeAll(keepingCapacity: true)
            if !shutdownWaiters.isEmpty {
                break
            }
            // A caller that just ran here has usually handed over its next request: take it before
            // driving libcurl, which would otherwise run once for nothing. Bounded, so a caller that
            // keeps the loop busy with steps of its own cannot hold the transfers up.
            if ranJob, drains < 4, self.pending.load(ordering: .acquiring) > 0 {
                drains += 1
                continue
            }
            drains = 0

            var running: Int32 = 0
            curl_multi_perform(self.multi, &running)
            var finished: UnsafeMutableRawPointer?
            var code = CURLE_OK
            var completed = false
            while mld_multi_next_done(self.multi, &finished, &code) == 1 {
                guard let easy = finished, let transfer = active.removeValue(forKey: easy) else { continue }
                transfer.complete(code)
                curl_multi_remove_handle(self.multi, easy)
                recycle(transfer)
                completed = true
            }

            if completed, active.isEmpty, self.pending.load(ordering: .acquiring) == 0 {
                let until = ContinuousClock.now + Self.spinAfterCompletion
                while self.pending.load(ordering: .acquiring) == 0, ContinuousClock.now < until {}
            }
            if self.pending.load(ordering: .acquiring) > 0 { continue }

            let sleep: Bool = self.shared.withLock { shared in
                guard shared.commands.isEmpty else { return false }
                shared.sleeping = true
                return true
            }
            if sleep {
                var timeout = -1
                curl_multi_timeout(self.multi, &timeout)
                let wait = active.isEmpty ? 1000 : (timeout < 0 ? 200 : min(timeout, 200))
                var ready: Int32 = 0
                curl_multi_poll(self.multi, nil, 0, Int32(wait), &ready)
                self.shared.withLock { $0.sleeping = false }
            }
        }

        // Shutting down: fail what is still running, release everything.
        let closed = MLDeployError(code: .cancelled, message: "The HTTP client was shut down while the request was running.")
        for (easy, transfer) in active {
            curl_multi_remove_handle(self.multi, easy)
            transfer.fail(closed)
            transfer.handle = nil
        }
        pool.removeAll()
        let leftovers: [Command] = self.shared.withLock { shared in
            shared.stopped = true
            defer { shared.commands = [] }
            return shared.commands
        }
        for command in leftovers { Self.refuse(command) }
        curl_multi_cleanup(self.multi)
        for waiter in shutdownWaiters { waiter.resume() }
    }
}
