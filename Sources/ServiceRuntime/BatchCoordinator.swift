import Foundation
import MLDeploy

/// Runs and tracks batch executions for a local backend.
///
/// Records run with bounded parallelism (never more than the requested count at once); results are
/// kept by record index, so they come back in submission order however the records finish. A record
/// whose call throws gets a failed response carrying the error's code and message, so one bad record
/// never sinks the batch. Cancelling stops the records still running and deletes the execution, as ML
/// Server's `CancelAndDeleteBatchExecution` does.
///
/// Finished executions are kept for status queries, up to ``retainedExecutions``; beyond that the
/// oldest finished ones are dropped. An execution's results stay in memory up to
/// ``resultMemoryLimit`` bytes (as their `WebServiceResult` JSON); later ones are written to files
/// in ``spoolDirectory`` and read back when asked for, so a batch of large results (artifacts are
/// up to 32 MiB each) does not pile up on the heap.
public actor BatchCoordinator {
    /// One record's call: its index and bound inputs in, a response out.
    public typealias RecordRunner = @Sendable (_ index: Int, _ inputs: [String: MLValue]) async throws -> ServiceResponse

    /// A finished record's result: in memory, or in a file of the spool directory.
    private enum Held {
        case memory(ServiceResponse)
        case file(URL)
    }

    private struct Execution {
        let service: ServiceInfo
        let total: Int
        var state: BatchState = .pending
        var results: [Int: Held] = [:]
        /// Bytes of the results held in memory (their JSON size).
        var heldBytes = 0
        var task: Task<Void, Never>?
        let sequence: Int
    }

    /// How many executions are kept before the oldest finished ones are dropped.
    public let retainedExecutions: Int
    /// The bytes of one execution's results kept in memory before later ones go to files.
    public let resultMemoryLimit: Int
    /// Where results beyond ``resultMemoryLimit`` are written (owner-only, made on first use,
    /// removed with their executions).
    public let spoolDirectory: URL
    private var executions: [String: Execution] = [:]
    private var nextSequence = 0

    /// Creates a coordinator keeping up to `retainedExecutions` executions, each with up to
    /// `resultMemoryLimit` bytes of results in memory (64 MiB) and the rest in `spoolDirectory`
    /// (a new directory in the system's temporary directory by default).
    public init(retainedExecutions: Int = 1000, resultMemoryLimit: Int = 64 << 20, spoolDirectory: URL? = nil) {
        self.retainedExecutions = max(1, retainedExecutions)
        self.resultMemoryLimit = max(0, resultMemoryLimit)
        self.spoolDirectory = spoolDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-batch-results-\(UUID().uuidString.prefix(8).lowercased())")
    }

    /// Starts running `records` and returns the new execution's id at once.
    ///
    /// - Parameters:
    ///   - service: The service version the records call.
    ///   - records: The records, already bound to the input schema.
    ///   - parallelCount: How many records may run at once (at least 1).
    ///   - run: Runs one record.
    public func start(service: ServiceInfo, records: [[String: MLValue]], parallelCount: Int, run: @escaping RecordRunner) -> String {
        BatchInstrumentation.started(service: service, records: records.count)
        let id = UUID().uuidString.lowercased()
        self.nextSequence += 1
        self.executions[id] = Execution(service: service, total: records.count, sequence: self.nextSequence)
        let limit = max(1, parallelCount)
        self.executions[id]?.task = Task { [weak self] in
            await Self.execute(id: id, service: service, records: records, limit: limit, run: run, coordinator: self)
        }
        self.evictFinished()
        return id
    }

    private static func execute(
        id: String,
        service: ServiceInfo,
        records: [[String: MLValue]],
        limit: Int,
        run: @escaping RecordRunner,
        coordinator: BatchCoordinator?
    ) async {
        await coordinator?.markStarted(id)
        await withTaskGroup(of: (Int, ServiceResponse).self) { group in
            var next = 0
            func launch() {
                let index = next
                let inputs = records[index]
                next += 1
                group.addTask {
                    let response = await BatchInstrumentation.runRecord(service: service, batch: id, index: index) {
                        try await run(index, inputs)
                    }
                    return (index, response)
                }
            }
            while next < min(limit, records.count) { launch() }
            for await (index, response) in group {
                if Task.isCancelled { break }
                await coordinator?.record(id, index: index, response: response)
                if next < records.count, !Task.isCancelled { launch() }
            }
        }
        await coordinator?.markFinished(id)
    }

    private func markStarted(_ id: String) {
        self.executions[id]?.state = .inProgress
    }

    private func record(_ id: String, index: Int, response: ServiceResponse) {
        guard var execution = self.executions[id] else { return }
        let json = (try? response.webServiceResultJSON().serializedBytes()) ?? []
        if execution.heldBytes + json.count <= self.resultMemoryLimit || !self.spill(json, to: self.file(of: id, index: index)) {
            execution.heldBytes += json.count
            execution.results[index] = .memory(response)
        } else {
            execution.results[index] = .file(self.file(of: id, index: index))
        }
        self.executions[id] = execution
    }

    private func file(of id: String, index: Int) -> URL {
        self.spoolDirectory.appendingPathComponent("\(id)-\(index).json")
    }

    /// Writes a result to its file; `false` (the result then stays in memory) when that fails.
    private func spill(_ json: [UInt8], to file: URL) -> Bool {
        do {
            try FileManager.default.createDirectory(at: self.spoolDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(json).write(to: file, options: .atomic)
            return true
        } catch {
            return false
        }
    }

    /// Forgets an execution and removes its spooled results.
    @discardableResult
    private func remove(_ id: String) -> Execution? {
        guard let execution = self.executions.removeValue(forKey: id) else { return nil }
        for case .file(let url) in execution.results.values { try? FileManager.default.removeItem(at: url) }
        return execution
    }

    /// A held result, read back from its file if it was spooled.
    private func response(_ held: Held, service: ServiceInfo) throws -> ServiceResponse {
        switch held {
        case .memory(let response): return response
        case .file(let url):
            do {
                return try ServiceResponse(webServiceResultJSON: try JSONValue(parsing: Array(try Data(contentsOf: url))), service: service)
            } catch {
                throw MLDeployError(code: .storageFailure, message: "Cannot read the spooled batch result \(url.path): \(error)")
            }
        }
    }

    private func markFinished(_ id: String) {
        guard var execution = self.executions[id] else { return }
        execution.state = execution.results.count == execution.total ? .complete : .failed
        execution.task = nil
        self.executions[id] = execution
    }

    private func evictFinished() {
        guard self.executions.count > self.retainedExecutions else { return }
        let finished = self.executions.filter { $0.value.task == nil }.sorted { $0.value.sequence < $1.value.sequence }
        for (id, _) in finished.prefix(self.executions.count - self.retainedExecutions) {
            self.remove(id)
        }
    }

    private func execution(_ batch: BatchReference) throws -> Execution {
        guard let execution = self.executions[batch.executionID], execution.service.reference == batch.service else {
            throw MLDeployError.notFound("No batch execution '\(batch.executionID)' for service \(batch.service).")
        }
        return execution
    }

    /// The state and, when `includeResults`, the finished records' responses in record order.
    ///
    /// - Throws: ``MLDeployError/Code/notFound`` for an unknown (or cancelled) execution.
    public func status(_ batch: BatchReference, includeResults: Bool) throws -> BatchStatus {
        let execution = try self.execution(batch)
        let items = includeResults
            ? try execution.results.sorted { $0.key < $1.key }.map { BatchItem(index: $0.key, response: try self.response($0.value, service: execution.service)) }
            : []
        return BatchStatus(
            executionID: batch.executionID,
            state: execution.state,
            completedItemCount: execution.results.count,
            totalItemCount: execution.total,
            results: items
        )
    }

    /// The ids of `service`'s executions, oldest first.
    public func executionIDs(for service: ServiceReference) -> [String] {
        self.executions.filter { $0.value.service.reference == service }.sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
    }

    /// Cancels an execution's running records and deletes it.
    ///
    /// - Throws: ``MLDeployError/Code/notFound`` for an unknown execution.
    public func cancel(_ batch: BatchReference) throws {
        let execution = try self.execution(batch)
        execution.task?.cancel()
        self.remove(batch.executionID)
    }

    /// Cancels and deletes every execution of `service` (its version was deleted).
    public func cancelAll(for service: ServiceReference) {
        for id in self.executionIDs(for: service) {
            self.remove(id)?.task?.cancel()
        }
    }

    /// Cancels and deletes every execution (the backend is shutting down).
    public func cancelAll() {
        for execution in self.executions.values { execution.task?.cancel() }
        for id in Array(self.executions.keys) { self.remove(id) }
        try? FileManager.default.removeItem(at: self.spoolDirectory)
    }

    /// The artifact names of record `index`.
    ///
    /// - Throws: ``MLDeployError/Code/notFound`` for an unknown execution or a record without a result.
    public func artifactNames(_ batch: BatchReference, index: Int) throws -> [String] {
        try self.response(batch, index: index).artifactNames
    }

    /// The bytes of artifact `fileName` of record `index`.
    ///
    /// - Throws: ``MLDeployError/Code/notFound`` for an unknown execution, record or file.
    public func artifact(_ batch: BatchReference, index: Int, fileName: String) throws -> Data {
        guard let data = try self.response(batch, index: index).artifact(fileName) else {
            throw MLDeployError.notFound("Record \(index) of batch '\(batch.executionID)' has no artifact '\(fileName)'.")
        }
        return data
    }

    private func response(_ batch: BatchReference, index: Int) throws -> ServiceResponse {
        let execution = try self.execution(batch)
        guard (0..<execution.total).contains(index) else {
            throw MLDeployError.notFound("Batch '\(batch.executionID)' has records 0..<\(execution.total); there is no record \(index).")
        }
        guard let held = execution.results[index] else {
            throw MLDeployError.notFound("Record \(index) of batch '\(batch.executionID)' has not finished yet.")
        }
        return try self.response(held, service: execution.service)
    }
}
