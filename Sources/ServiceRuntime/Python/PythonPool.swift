import Foundation
import Logging
import MLDeploy
import Subprocess

/// The workers of a ``PythonRuntime``, per service version, under the configured limits.
///
/// - Per version: at most `maximumWorkersPerVersion`; calls beyond that wait in a first-come,
///   first-served queue and are handed the next released worker.
/// - Globally: at most `maximumWorkers`. A version that needs a worker when the limit is reached takes
///   one from the least recently used version with an idle worker; if every worker is busy, it waits,
///   and the next worker released elsewhere (with nobody waiting for it there) is stopped to make room.
/// - Idle workers beyond `minimumWorkersPerVersion` are stopped after `idleTimeout`.
/// - One-shot workers (session runs) count against `maximumWorkers` too: they make room the same
///   way, and wait — bounded by `maximumQueueWait` — when every worker is busy, so sessions cannot
///   start processes past the limit the services live under.
/// - A worker that timed out or crashed is discarded, and a replacement is started for whoever waits.
actor PythonPool {
    /// A worker lent to one call.
    struct Lease: Sendable {
        let worker: PythonWorker
        let key: Key
        /// The worker's working directory (the artifacts of the call are read from it).
        var workdir: URL
    }

    struct Key: Hashable, Sendable {
        let reference: ServiceReference
        let revision: String
    }

    private final class Slot {
        let service: PythonService
        var idle: [(worker: PythonWorker, since: ContinuousClock.Instant)] = []
        var busy: [Int: PythonWorker] = [:]
        var starting = 0
        /// Callers waiting for a worker, oldest first, with when each began to wait.
        var waiters: [(id: Int, continuation: CheckedContinuation<PythonWorker, any Error>, since: ContinuousClock.Instant)] = []
        var lastUsed = ContinuousClock.now

        init(service: PythonService) {
            self.service = service
        }

        var total: Int { self.idle.count + self.busy.count + self.starting }
    }

    private let configuration: PythonRuntime.Configuration
    private let directory: URL
    private let logger: Logger
    private var slots: [Key: Slot] = [:]
    /// Pool sizes set for single versions, overriding the configuration's per-version limits.
    private var sizes: [ServiceReference: PythonRuntime.PoolSize] = [:]
    private var scriptPath: String?
    /// The worker that compiles code for ``checkSyntax(_:)`` (started on first use; one for the
    /// whole runtime, so checking a deploy costs a message, not a Python start).
    private var syntaxChecker: Task<PythonWorker, any Error>?
    /// The prepared sandbox workers start in (``PythonIsolation/sandbox``), made on first use.
    private var sandbox: Task<PythonSandbox, any Error>?
    private var nextWorkerID = 0
    private var nextWaiterID = 0
    private var waitOrder: [Key] = []
    /// One-shot workers running now (they hold a place under `maximumWorkers`).
    private var oneShots = 0
    /// One-shot runs waiting for a place, oldest first.
    private var oneShotWaiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>, since: ContinuousClock.Instant)] = []
    private var janitor: Task<Void, Never>?
    /// The one task that fails callers who waited longer than `maximumQueueWait`, running while
    /// anyone waits. One timer for all waiters, not one per waiter: a sleeping task's timer cannot
    /// be withdrawn, so under load per-waiter timers piled up by the tens of thousands and fired —
    /// each waking a task that queued on this actor — long after their callers had been served,
    /// slowing the calls of that later moment.
    private var expiry: Task<Void, Never>?
    private var closed = false

    init(configuration: PythonRuntime.Configuration, directory: URL, logger: Logger) {
        self.configuration = configuration
        self.directory = directory
        self.logger = logger
    }

    private var totalWorkers: Int { self.slots.values.reduce(0) { $0 + $1.total } + self.oneShots }

    /// The pool size of a version: its own, or the configuration's.
    func size(of reference: ServiceReference) -> PythonRuntime.PoolSize {
        self.sizes[reference]
            ?? PythonRuntime.PoolSize(minimum: self.configuration.minimumWorkersPerVersion, maximum: self.configuration.maximumWorkersPerVersion)
    }

    /// Whether a version has a size of its own.
    func hasOwnSize(_ reference: ServiceReference) -> Bool { self.sizes[reference] != nil }

    /// Sets (or, with `nil`, forgets) a version's own pool size. Workers above a lower maximum are
    /// stopped as they become idle; a higher minimum is started by the next call.
    func setSize(_ size: PythonRuntime.PoolSize?, of reference: ServiceReference) {
        self.sizes[reference] = size
        let maximum = self.size(of: reference).maximum
        for (key, slot) in self.slots where key.reference == reference {
            while slot.total > maximum, let (worker, _) = slot.idle.popLast() {
                self.retire(worker, kill: false)
            }
        }
    }

    // MARK: Lending workers

    func acquire(_ service: PythonService) async throws -> Lease {
        guard !self.closed else { throw MLDeployError(code: .cancelled, message: "The Python runtime was shut down.") }
        let key = Key(reference: service.info.reference, revision: service.revision)
        self.retireOtherRevisions(of: key)
        let slot = self.slot(for: key, service: service)
        slot.lastUsed = .now
        // An idle worker whose process has died (killed from outside, out of memory) is retired, not lent.
        while let (worker, _) = slot.idle.popLast() {
            if worker.hasExited {
                self.retire(worker, kill: true)
                continue
            }
            slot.busy[worker.id] = worker
            return Lease(worker: worker, key: key, workdir: self.workdir(of: worker))
        }
        if slot.total < self.size(of: key.reference).maximum, self.makeRoom(for: key) {
            slot.starting += 1
            // Starting a worker is shared work (callers queue behind it), so it runs in a task of its
            // own that the caller's cancellation does not abort.
            let service = slot.service
            let started = await Task { try await self.startWorker(for: service) }.result
            slot.starting -= 1
            if case .success(let worker) = started, self.slots[key] !== slot {
                self.retire(worker, kill: true)
                throw MLDeployError(code: .cancelled, message: "The service was redeployed or removed while its worker started.")
            }
            switch started {
            case .failure(let error):
                // Callers that queued behind this start must not wait for a worker that never comes.
                self.serveWaiters(of: key)
                self.serveWaitersElsewhere()
                throw error
            case .success(let worker):
                slot.busy[worker.id] = worker
                let lease = Lease(worker: worker, key: key, workdir: self.workdir(of: worker))
                if Task.isCancelled {
                    self.release(lease, healthy: true)  // the next caller gets it
                    throw MLDeployError(code: .cancelled, message: "The call was cancelled while its Python worker started.")
                }
                return lease
            }
        }
        self.nextWaiterID += 1
        let waiterID = self.nextWaiterID
        let worker = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PythonWorker, any Error>) in
                // A synchronous call of an actor method: the compiler proves this closure runs on the
                // actor. (Capturing only `slot` here once let the closure run off the actor, racing
                // `release` on the waiter list and crashing the server when clients hung up.)
                self.enqueueWaiter(waiterID, continuation, key: key)
            }
        } onCancel: {
            Task { await self.abandonWait(waiterID, key: key) }
        }
        return Lease(worker: worker, key: key, workdir: self.workdir(of: worker))
    }

    /// Queues a caller for the next worker of `key`, unless it was cancelled before it got here (its
    /// cancellation handler then ran before there was a waiter to abandon).
    private func enqueueWaiter(_ id: Int, _ continuation: CheckedContinuation<PythonWorker, any Error>, key: Key) {
        guard !Task.isCancelled, let slot = self.slots[key] else {
            continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The call was cancelled while it waited for a Python worker."))
            return
        }
        slot.waiters.append((id, continuation, .now))
        self.waitOrder.append(key)
        // The wait is bounded: looping or slow calls of one service must not park every other
        // caller for minutes (the call timeout starts only once a worker is obtained).
        self.scheduleExpiry()
    }

    /// Starts the expiry task unless it runs: it sleeps until the oldest wait runs out, fails the
    /// waits that have, and ends when nobody waits.
    private func scheduleExpiry() {
        guard self.expiry == nil, let bound = self.configuration.maximumQueueWait else { return }
        self.expiry = Task { [weak self] in
            while let deadline = await self?.nextQueueDeadline(bound) {
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                await self?.expireWaits(after: bound)
            }
        }
    }

    /// When the oldest wait runs out; `nil`, ending the expiry task, when nobody waits.
    private func nextQueueDeadline(_ bound: Duration) -> ContinuousClock.Instant? {
        let oldest = (self.slots.values.compactMap { $0.waiters.first?.since } + self.oneShotWaiters.prefix(1).map(\.since)).min()
        guard let oldest, !self.closed else {
            self.expiry = nil
            return nil
        }
        return oldest + bound
    }

    /// Fails every caller that has waited `bound` or longer: `overloaded`, nothing ran.
    private func expireWaits(after bound: Duration) {
        let cutoff = ContinuousClock.now - bound
        for (key, slot) in self.slots {
            while let waiter = slot.waiters.first, waiter.since <= cutoff {
                slot.waiters.removeFirst()
                if let position = self.waitOrder.firstIndex(of: key) { self.waitOrder.remove(at: position) }
                waiter.continuation.resume(throwing: MLDeployError(
                    code: .overloaded,
                    message: "Every worker of \(key.reference) stayed busy for \(bound) while the call waited for one; nothing ran. Try again later."
                ))
            }
        }
        while let waiter = self.oneShotWaiters.first, waiter.since <= cutoff {
            self.oneShotWaiters.removeFirst()
            waiter.continuation.resume(throwing: MLDeployError(
                code: .overloaded,
                message: "All \(self.configuration.maximumWorkers) Python workers of this server stayed busy for \(bound) while the run waited for one; nothing ran. Try again later."
            ))
        }
    }

    private func abandonWait(_ waiterID: Int, key: Key) {
        guard let slot = self.slots[key], let index = slot.waiters.firstIndex(where: { $0.id == waiterID }) else { return }
        let waiter = slot.waiters.remove(at: index)
        if let position = self.waitOrder.firstIndex(of: key) { self.waitOrder.remove(at: position) }
        waiter.continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The call was cancelled while it waited for a Python worker."))
    }

    func release(_ lease: Lease, healthy: Bool) {
        guard let slot = self.slots[lease.key], !self.closed else {
            self.retire(lease.worker, kill: true)
            return
        }
        slot.lastUsed = .now
        guard healthy, !lease.worker.hasExited else {
            self.retire(lease.worker, kill: true)
            slot.busy[lease.worker.id] = nil
            self.serveWaiters(of: lease.key)
            self.serveWaitersElsewhere()
            return
        }
        if !slot.waiters.isEmpty {
            let waiter = slot.waiters.removeFirst()
            if let position = self.waitOrder.firstIndex(of: lease.key) { self.waitOrder.remove(at: position) }
            waiter.continuation.resume(returning: lease.worker)
            return
        }
        slot.busy[lease.worker.id] = nil
        slot.idle.append((lease.worker, .now))
        // Versions waiting for room under the global limit get it now: making room for them evicts
        // the least recently used idle worker, which may be this one.
        self.serveWaitersElsewhere()
    }

    /// Starts workers for the oldest waiters of `key`, as room allows.
    private func serveWaiters(of key: Key) {
        guard let slot = self.slots[key] else { return }
        while !slot.waiters.isEmpty, slot.total < self.size(of: key.reference).maximum, self.makeRoom(for: key) {
            let waiter = slot.waiters.removeFirst()
            if let position = self.waitOrder.firstIndex(of: key) { self.waitOrder.remove(at: position) }
            slot.starting += 1
            Task {
                do {
                    let worker = try await self.startWorker(for: slot.service)
                    self.started(worker, for: key, slot: slot, handingTo: waiter.continuation)
                } catch {
                    self.failedToStart(for: key, slot: slot)
                    waiter.continuation.resume(throwing: error)
                }
            }
        }
    }

    private func started(_ worker: PythonWorker, for key: Key, slot: Slot, handingTo continuation: CheckedContinuation<PythonWorker, any Error>) {
        slot.starting -= 1
        // The slot may have been dropped (the version was redeployed, removed or evicted) meanwhile.
        guard self.slots[key] === slot, !self.closed else {
            self.retire(worker, kill: true)
            continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The service was redeployed or removed while its worker started."))
            return
        }
        slot.busy[worker.id] = worker
        continuation.resume(returning: worker)
    }

    private func failedToStart(for key: Key, slot: Slot) {
        slot.starting -= 1
        // The next waiter gets a start of its own (each waiter gets its own error if starts keep failing).
        if self.slots[key] === slot { self.serveWaiters(of: key) }
    }

    /// Serves one-shot runs, then versions, that wait for room under the global limit, oldest first.
    private func serveWaitersElsewhere() {
        while !self.oneShotWaiters.isEmpty, self.makeRoom(for: nil) {
            self.oneShots += 1
            self.oneShotWaiters.removeFirst().continuation.resume()
        }
        for key in self.waitOrder {
            self.serveWaiters(of: key)
        }
    }

    /// Whether a worker may be added for `key`, stopping an idle worker of the least recently used
    /// other version if the global limit requires it.
    private func makeRoom(for key: Key?) -> Bool {
        if self.totalWorkers < self.configuration.maximumWorkers { return true }
        let candidates = self.slots.filter { $0.key != key && !$0.value.idle.isEmpty }
        guard let (victimKey, victim) = candidates.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { return false }
        let (worker, _) = victim.idle.removeFirst()
        self.retire(worker, kill: false)
        self.logger.debug("evicted an idle worker to make room", metadata: ["from": "\(victimKey.reference)", "for": "\(key.map { "\($0.reference)" } ?? "a one-shot run")"])
        self.dropIfEmpty(victimKey)
        return true
    }

    // MARK: Starting workers

    /// The worker's working directory, as the worker sees it: one per worker, emptied by the worker
    /// before each call.
    func workdir(of worker: PythonWorker) -> URL {
        URL(fileURLWithPath: worker.launch.workdir)
    }

    private func console(of worker: PythonWorker) -> URL {
        URL(fileURLWithPath: worker.launch.capture)
    }

    /// Stops a worker and removes its files and cgroups once it has exited.
    private func retire(_ worker: PythonWorker, kill: Bool) {
        if kill { worker.kill() } else { worker.stop() }
        let (files, cgroup) = (worker.launch.hostFiles, worker.launch.cgroup)
        Task.detached {
            await worker.waitUntilExited()
            for file in files { try? FileManager.default.removeItem(at: file) }
            if let cgroup { await PythonSandbox.removeCgroup(cgroup) }
        }
    }

    /// How worker `id` starts: confined in the sandbox (made once, on first use), or — with
    /// ``PythonIsolation/none`` — as a plain interpreter in a working directory of this process's.
    private func launch(id: Int) async throws -> WorkerLaunch {
        let script = try self.installScript()
        let configuration = self.configuration
        // The worker script sets these per-process limits before it reads any code.
        // `processes` is RLIMIT_NPROC (0: none), which counts every process of the worker's real
        // user, not of one tree.
        func limits(processes: Int) -> [String] {
            [
                String(configuration.memoryLimit ?? 0), String(configuration.maximumOpenFiles), String(configuration.maximumFileSize),
                String(processes),
            ]
        }
        guard configuration.isolation == .sandbox else {
            let workdir = self.directory.appendingPathComponent("worker-\(id)"), capture = self.directory.appendingPathComponent("worker-\(id).console")
            if id >= 0 { try FileManager.default.createDirectory(at: workdir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700]) }
            var environment: [Environment.Key: String?] = [
                "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            ]
            for (key, value) in configuration.environment { environment[Environment.Key(stringLiteral: key)] = value }
            return WorkerLaunch(
                executable: configuration.interpreter, arguments: ["-u", script] + limits(processes: 0), environment: .inherit.updating(environment),
                workdir: workdir.path, capture: capture.path, hostFiles: [workdir, capture], cgroup: nil, confined: false
            )
        }
        let sandbox = try await self.preparedSandbox()
        let cgroup = sandbox.makeCgroup(name: self.directory.lastPathComponent + "-w\(id < 0 ? "check" : String(id))", memoryLimit: configuration.memoryLimit, maximumProcesses: configuration.maximumProcesses)
        // Without a cgroup, the processes of the worker's user are capped instead: a coarser bound,
        // shared by all workers (and, for a server that is not root, by the server's own user).
        let userProcesses = configuration.maximumProcesses * configuration.maximumWorkers + (getuid() == 0 ? 0 : 512)
        let command = sandbox.command(
            script: script, interpreterArguments: ["-u", PythonSandbox.scriptPath] + limits(processes: cgroup == nil ? userProcesses : 0), cgroup: cgroup,
            extraEnvironment: configuration.environment
        )
        return WorkerLaunch(
            executable: command.executable, arguments: command.arguments, environment: .custom(command.environment),
            workdir: PythonSandbox.workdir, capture: PythonSandbox.capture, hostFiles: [], cgroup: cgroup, confined: true
        )
    }

    /// The sandbox, prepared once (a failure is not kept: bubblewrap may be installed meanwhile).
    func preparedSandbox() async throws -> PythonSandbox {
        if let sandbox = self.sandbox { return try await sandbox.value }
        let configuration = self.configuration
        let task = Task { try await PythonSandbox.prepare(configuration) }
        self.sandbox = task
        do {
            return try await task.value
        } catch {
            self.sandbox = nil
            throw error
        }
    }

    private func startWorker(for service: PythonService) async throws -> PythonWorker {
        self.nextWorkerID += 1
        let id = self.nextWorkerID
        let launch = try await self.launch(id: id)
        let worker: PythonWorker
        do {
            worker = try await PythonWorker.start(id: id, launch: launch, configuration: self.configuration)
        } catch {
            for file in launch.hostFiles { try? FileManager.default.removeItem(at: file) }
            if let cgroup = launch.cgroup { await PythonSandbox.removeCgroup(cgroup) }
            throw error
        }
        let answer: WorkerFrame
        do {
            answer = try await worker.exchange(
                try service.loadFrame(workdir: self.workdir(of: worker), capture: self.console(of: worker), artifactLimit: self.configuration.maximumArtifactSize),
                timeout: self.configuration.callTimeout
            )
        } catch {
            self.retire(worker, kill: true)
            throw error
        }
        guard answer.header["ok"]?.boolValue == true else {
            self.retire(worker, kill: true)
            let detail = answer.header["error"]?.stringValue ?? "unknown error"
            throw ServiceLoadFailure(
                message: "Loading service '\(service.info.name)' version '\(service.info.version)' failed (its objects, models or init code raised):\n\(detail)",
                console: ""
            )
        }
        self.logger.debug("worker started", metadata: ["service": "\(service.info.reference)", "worker": "\(worker.id)", "pid": "\(worker.processID ?? 0)"])
        self.startJanitor()
        return worker
    }

    /// Compiles `sources` (name and code) in the checker worker; the first syntax error as
    /// `[name, line, message, text]`, or `nil` when everything compiles. A checker that died is
    /// replaced once.
    func checkSyntax(_ sources: [(String, String)]) async throws -> [JSONValue]? {
        let frame = WorkerFrame(header: ["op": "compile", "sources": .array(sources.map { [.string($0.0), .string($0.1)] })])
        for attempt in 0..<2 {
            if self.closed { throw MLDeployError(code: .cancelled, message: "The Python runtime was shut down.") }
            if self.syntaxChecker == nil {
                let launch = try await self.launch(id: -1), configuration = self.configuration
                self.syntaxChecker = Task { try await PythonWorker.start(id: -1, launch: launch, configuration: configuration) }
            }
            let checker: PythonWorker
            do {
                checker = try await self.syntaxChecker!.value
            } catch {
                self.syntaxChecker = nil
                throw error
            }
            do {
                let answer = try await checker.exchange(frame, timeout: .seconds(30))
                return answer.header["ok"]?.boolValue == true ? nil : (answer.header["error"]?.arrayValue ?? [])
            } catch let error as MLDeployError where attempt == 0 && error.code == .workerCrashed {
                self.syntaxChecker = nil  // start a new one and try again
            }
        }
        return nil
    }

    /// Writes the worker script into the runtime's private directory, once.
    private func installScript() throws -> String {
        if let path = self.scriptPath { return path }
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let url = self.directory.appendingPathComponent(PythonWorkerScript.fileName)
        try Data(PythonWorkerScript.source.utf8).write(to: url, options: .atomic)
        self.scriptPath = url.path
        return url.path
    }

    func warmUp(_ service: PythonService) async throws {
        let key = Key(reference: service.info.reference, revision: service.revision)
        self.retireOtherRevisions(of: key)
        let slot = self.slot(for: key, service: service)
        let size = self.size(of: key.reference)
        let wanted = min(max(1, size.minimum), size.maximum)
        while slot.total < wanted, self.makeRoom(for: key) {
            slot.starting += 1
            do {
                let worker = try await self.startWorker(for: service)
                slot.starting -= 1
                slot.idle.append((worker, .now))
            } catch let failure as ServiceLoadFailure {
                slot.starting -= 1
                throw MLDeployError(code: .serviceLoadFailed, message: failure.message)
            } catch {
                slot.starting -= 1
                throw error
            }
        }
    }

    /// Runs one exchange on a worker of its own that is stopped right after (an authoring session's
    /// code, which must not share a process with a service). It counts against no pool limit: such
    /// runs are rare, interactive work.
    func runOnce(_ makeFrame: (_ workdir: URL, _ capture: URL) throws -> WorkerFrame) async throws -> WorkerFrame {
        guard !self.closed else { throw MLDeployError(code: .cancelled, message: "The Python runtime was shut down.") }
        try await self.reserveOneShotPlace()
        defer {
            self.oneShots -= 1
            self.serveWaitersElsewhere()
        }
        self.nextWorkerID += 1
        let id = self.nextWorkerID
        let configuration = self.configuration
        let launch = try await self.launch(id: id)
        let worker = try await Task { try await PythonWorker.start(id: id, launch: launch, configuration: configuration) }.value
        defer { self.retire(worker, kill: true) }
        let frame = try makeFrame(self.workdir(of: worker), self.console(of: worker))
        return try await withTaskCancellationHandler {
            try await worker.exchange(frame, timeout: configuration.callTimeout)
        } onCancel: {
            worker.kill()
        }
    }

    /// Takes a place under `maximumWorkers` for a one-shot run, waiting (at most
    /// `maximumQueueWait`) while every place is busy.
    private func reserveOneShotPlace() async throws {
        if self.oneShotWaiters.isEmpty, self.makeRoom(for: nil) {
            self.oneShots += 1
            return
        }
        self.nextWaiterID += 1
        let waiterID = self.nextWaiterID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                self.enqueueOneShot(waiterID, continuation)
            }
        } onCancel: {
            Task { await self.endOneShotWait(waiterID, with: MLDeployError(code: .cancelled, message: "The run was cancelled while it waited for a Python worker.")) }
        }
    }

    private func enqueueOneShot(_ id: Int, _ continuation: CheckedContinuation<Void, any Error>) {
        guard !Task.isCancelled, !self.closed else {
            continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The run was cancelled while it waited for a Python worker."))
            return
        }
        self.oneShotWaiters.append((id, continuation, .now))
        self.scheduleExpiry()
    }

    /// Fails a one-shot run still waiting (cancelled).
    private func endOneShotWait(_ waiterID: Int, with error: MLDeployError) {
        guard let index = self.oneShotWaiters.firstIndex(where: { $0.id == waiterID }) else { return }
        self.oneShotWaiters.remove(at: index).continuation.resume(throwing: error)
    }

    // MARK: Housekeeping

    private func slot(for key: Key, service: PythonService) -> Slot {
        if let slot = self.slots[key] { return slot }
        let slot = Slot(service: service)
        self.slots[key] = slot
        return slot
    }

    /// A newer revision of the same version replaces the older one's workers.
    private func retireOtherRevisions(of key: Key) {
        for (other, slot) in self.slots where other.reference == key.reference && other.revision != key.revision {
            for (worker, _) in slot.idle { self.retire(worker, kill: false) }
            slot.idle = []
            for waiter in slot.waiters {
                waiter.continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The service was redeployed while the call waited."))
            }
            self.slots[other] = nil
            self.waitOrder.removeAll { $0 == other }
        }
    }

    private func dropIfEmpty(_ key: Key) {
        if let slot = self.slots[key], slot.total == 0, slot.waiters.isEmpty {
            self.slots[key] = nil
        }
    }

    func evict(_ reference: ServiceReference) {
        for (key, slot) in self.slots where key.reference == reference {
            for (worker, _) in slot.idle { self.retire(worker, kill: false) }
            slot.idle = []
            for waiter in slot.waiters {
                // Redeployed or deleted: the caller (a server) tells which, and may call again.
                waiter.continuation.resume(throwing: MLDeployError(code: .cancelled, message: "Service \(reference) was redeployed or removed while the call waited for a worker."))
            }
            self.slots[key] = nil
            self.waitOrder.removeAll { $0 == key }
        }
    }

    /// Stops idle workers idle longer than the timeout, keeping each version's minimum.
    private func evictIdle() {
        let cutoff = ContinuousClock.now - self.configuration.idleTimeout
        for (key, slot) in self.slots {
            let minimum = self.size(of: key.reference).minimum
            while slot.total > minimum, let oldest = slot.idle.first, oldest.since < cutoff {
                slot.idle.removeFirst()
                self.retire(oldest.worker, kill: false)
                self.logger.debug("stopped an idle worker", metadata: ["service": "\(key.reference)", "worker": "\(oldest.worker.id)"])
            }
            if slot.total == 0, slot.waiters.isEmpty, minimum == 0 {
                self.slots[key] = nil
            }
        }
    }

    private func startJanitor() {
        guard self.janitor == nil else { return }
        let interval = max(Duration.milliseconds(50), self.configuration.idleTimeout / 4)
        self.janitor = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.evictIdle()
            }
        }
    }

    func status() -> PythonRuntime.Status {
        PythonRuntime.Status(
            versions: self.slots.map { key, slot in
                .init(service: key.reference, idle: slot.idle.count, busy: slot.busy.count, starting: slot.starting, queued: slot.waiters.count)
            }.sorted { "\($0.service)" < "\($1.service)" },
            interpreter: self.configuration.interpreter,
            maximumWorkers: self.configuration.maximumWorkers,
            sessionRuns: self.oneShots,
            sessionRunsQueued: self.oneShotWaiters.count
        )
    }

    func shutdown() async {
        self.closed = true
        self.janitor?.cancel()
        self.expiry?.cancel()
        for waiter in self.oneShotWaiters {
            waiter.continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The Python runtime was shut down."))
        }
        self.oneShotWaiters = []
        var stopping: [PythonWorker] = []
        if let checker = try? await self.syntaxChecker?.value {
            checker.stop()
            stopping.append(checker)
        }
        self.syntaxChecker = nil
        for slot in self.slots.values {
            for (worker, _) in slot.idle {
                worker.stop()
                stopping.append(worker)
            }
            for worker in slot.busy.values {
                worker.kill()
                stopping.append(worker)
            }
            for waiter in slot.waiters {
                waiter.continuation.resume(throwing: MLDeployError(code: .cancelled, message: "The Python runtime was shut down."))
            }
        }
        self.slots = [:]
        self.waitOrder = []
        for worker in stopping {
            await worker.waitUntilExited()
        }
    }
}
