import Foundation
import Logging
import MLDeploy
import PostgresNIO
import ServiceRuntime
import Synchronization

/// Batch executions as a job queue in the database, so any node runs any batch's records and a
/// batch outlives the node that started it.
///
/// Starting a batch inserts the execution and one row per record (its bound inputs as JSON) in one
/// transaction and notifies every process. Each process runs a few worker loops; a loop claims one
/// pending record in a transaction — `FOR UPDATE SKIP LOCKED`, so no two processes take the same
/// record — runs it through the local runtime while holding that lock, then stores its result and
/// commits. A process that dies mid-record takes its transaction with it: the lock is released and
/// another process runs the record again. A batch's `parallelCount` bounds how many of its records
/// run at once across all processes: a worker must also take one of the batch's `parallelCount`
/// transaction-level advisory "slot" locks.
///
/// Cancelling marks the execution cancelled (it is gone for every reader at once) and deletes its
/// records not running now; a record running somewhere finishes and is then discarded, and the
/// execution's last row goes with it.
final class PostgresBatchQueue: Sendable {
    /// The notification payload prefix that wakes workers (on the backend's change channel).
    static let wakePrefix = "batch:"
    /// Workers per process.
    let workers: Int
    /// The most records of one batch that run at once across all processes (ML Server's
    /// `parallelCount` goes to 1000).
    static let maximumParallel = 1000
    private let backend: PostgresBackend
    private let logger: Logger
    private let node: String
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let signal = WakeSignal()

    init(backend: PostgresBackend, workers: Int, logger: Logger) {
        self.backend = backend
        self.workers = max(1, workers)
        self.logger = logger
        self.node = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }

    private var pool: PostgresPool { self.backend.db }

    // MARK: Workers

    /// Starts the worker loops (once).
    func start() {
        self.tasks.withLock { tasks in
            guard tasks.isEmpty else { return }
            for worker in 0..<self.workers {
                tasks.append(Task { await self.work(polling: worker == 0) })
            }
        }
    }

    /// Stops the worker loops; records they run are rolled back and run again by another process.
    func stop() async {
        let tasks = self.tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { task.cancel() }
        self.signal.wakeAll()
        for task in tasks { await task.value }
    }

    /// A batch was started or a record finished somewhere: every idle worker looks again.
    func wake() { self.signal.wakeAll() }

    private func work(polling: Bool) async {
        while !Task.isCancelled {
            let ran: Bool
            do {
                ran = try await self.claimAndRun()
            } catch {
                if !Task.isCancelled { self.logger.warning("batch worker failed to claim or store a record", metadata: ["error": "\(error)"]) }
                ran = false
            }
            if ran {
                self.signal.wakeAll()
            } else {
                // One worker polls (records orphaned by a dead process need no notification);
                // the others wait to be woken.
                await self.signal.wait(timeout: polling ? .seconds(2) : .seconds(30))
            }
        }
    }

    /// Claims and runs one record; `false` when none could be claimed.
    private func claimAndRun() async throws -> Bool {
        let (client, logger) = (self.pool.client, self.logger)
        // Bounded by the read timeout: with the database down, the pool would wait for a connection.
        let candidates = try await self.pool.run("looking for batch records") {
            var candidates: [(id: String, parallel: Int)] = []
            for try await (id, parallel) in try await client.query(
                """
                SELECT b.id, b.parallel FROM mldeploy_batches b
                WHERE NOT b.cancelled AND EXISTS (SELECT 1 FROM mldeploy_batch_records r WHERE r.batch = b.id AND r.result IS NULL)
                ORDER BY b.created_at LIMIT 20
                """,
                logger: logger
            ).decode((String, Int).self) {
                candidates.append((id, parallel))
            }
            return candidates
        }
        for candidate in candidates where try await self.runOne(of: candidate.id, parallel: candidate.parallel) {
            return true
        }
        return false
    }

    private struct Claimed: Sendable {
        let batch: String
        let name: String
        let version: String
        let index: Int
        let inputs: String
    }

    /// In one transaction: take a free slot of the batch and one pending record, run it, store the
    /// result. `false` when the batch has no free slot or no unclaimed record.
    private func runOne(of batch: String, parallel: Int) async throws -> Bool {
        let logger = self.logger
        return try await self.pool.client.withTransaction(logger: logger) { connection in
            var claimed: Claimed?
            for try await (name, version, index, inputs) in try await connection.query(
                """
                SELECT b.name, b.version, r.index, r.inputs FROM mldeploy_batch_records r JOIN mldeploy_batches b ON b.id = r.batch
                WHERE r.batch = \(batch) AND r.result IS NULL AND NOT b.cancelled
                ORDER BY r.index LIMIT 1 FOR UPDATE OF r SKIP LOCKED
                """,
                logger: logger
            ).decode((String, String, Int, String).self) {
                claimed = Claimed(batch: batch, name: name, version: version, index: index, inputs: inputs)
            }
            guard let claimed else { return false }
            // The first free slot, in one statement (it stops at the first lock it gets).
            var slot = false
            for try await _ in try await connection.query(
                "SELECT n FROM generate_series(0, \(min(max(1, parallel), Self.maximumParallel) - 1)::integer) AS n WHERE pg_try_advisory_xact_lock(hashtext(\(batch)), n) LIMIT 1",
                logger: logger
            ).decode(Int32.self) {
                slot = true
            }
            guard slot else { return false }
            // Outside this transaction: holding the batch row's lock while the record runs would
            // make a cancel wait for it.
            try await self.pool.client.query("UPDATE mldeploy_batches SET started_at = now() WHERE id = \(batch) AND started_at IS NULL", logger: logger)
            let result = await self.run(claimed)
            let bytes = ByteBuffer(bytes: (try? result.serializedBytes()) ?? [])
            try await connection.query(
                "UPDATE mldeploy_batch_records SET result = \(bytes), node = \(self.node) WHERE batch = \(batch) AND index = \(claimed.index)", logger: logger
            )
            // A batch cancelled while this record ran: its record is discarded, and the batch with its last record.
            try await connection.query(
                "DELETE FROM mldeploy_batch_records r USING mldeploy_batches b WHERE b.id = r.batch AND b.cancelled AND r.batch = \(batch) AND r.index = \(claimed.index)",
                logger: logger
            )
            try await connection.query(
                "DELETE FROM mldeploy_batches b WHERE b.id = \(batch) AND b.cancelled AND NOT EXISTS (SELECT 1 FROM mldeploy_batch_records r WHERE r.batch = b.id)",
                logger: logger
            )
            try await connection.query("SELECT pg_notify(\(ManifestCache.channel), \(Self.wakePrefix + batch))", logger: logger)
            return true
        }
    }

    /// Runs one record; a failure becomes the record's failed result, as in-process batches do.
    private func run(_ claimed: Claimed) async -> JSONValue {
        let info: ServiceInfo
        let implementation: ServiceImplementation
        let namespace: [String: ServiceObject]
        do {
            (info, implementation, namespace) = try await self.backend.executable(claimed.name, claimed.version)
        } catch {
            let info = ServiceInfo(name: claimed.name, version: claimed.version, runtime: RuntimeType("unknown"))
            return ServiceResponse.failure(service: info, errorMessage: (error as? MLDeployError)?.description ?? String(describing: error)).webServiceResultJSON()
        }
        let response = await BatchInstrumentation.runRecord(service: info, batch: claimed.batch, index: claimed.index) {
            let json = try JSONValue(parsing: Array(claimed.inputs.utf8))
            var inputs: [String: MLValue] = [:]
            for parameter in info.inputs {
                if let value = json[parameter.name] { inputs[parameter.name] = try MLValue(json: value, as: parameter.type, parameter: parameter.name, direction: .input) }
            }
            return try await self.backend.localRuntime.run(info, implementation: implementation, namespace: namespace, inputs: inputs)
        }
        return response.webServiceResultJSON()
    }
}

/// Wakes waiting workers all at once; a wait also ends after its timeout.
final class WakeSignal: Sendable {
    private struct State {
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose timer fired before they were registered.
        var expired: Set<Int> = []
        var next = 0
    }

    private let state = Mutex(State())

    func wakeAll() {
        let waiters = self.state.withLock { state in
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait(timeout: Duration) async {
        let id = self.state.withLock { state in
            state.next += 1
            return state.next
        }
        let timer = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }  // cancelled: woken already
            self.expire(id)
        }
        // A cancelled worker (the backend shutting down) stops waiting at once.
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state in
                    if state.expired.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.expire(id)
        }
        timer.cancel()
    }

    private func expire(_ id: Int) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.expired.insert(id)
            return nil
        }
        waiter?.resume()
    }
}
