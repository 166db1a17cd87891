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
/// oldest finished ones are dropped.
public actor BatchCoordinator {
    /// One record's call: its index and bound inputs in, a response out.
    public typealias RecordRunner = @Sendable (_ index: Int, _ inputs: [String: MLValue]) async throws -> ServiceResponse

    private struct Execution {
        let service: ServiceInfo
        let total: Int
        var state: BatchState = .pending
        var results: [Int: ServiceResponse] = [:]
        var task: Task<Void, Never>?
        let sequence: Int
    }

    /// How many executions are kept before the oldest finished ones are dropped.
    public let retainedExecutions: Int
    private var executions: [String: Execution] = [:]
    private var nextSequence = 0

    /// Creates a coordinator keeping up to `retainedExecutions` executions.
    public init(retainedExecutions: Int = 1000) {
        self.retainedExecutions = max(1, retainedExecutions)
    }

    /// Starts running `records` and returns the new execution's id at once.
    ///
    /// - Parameters:
    ///   - service: The service version the records call.
    ///   - records: The records, already bound to the input schema.
    ///   - parallelCount: How many records may run at once (at least 1).
    ///   - run: Runs one record.
    public func start(service: ServiceInfo, records: [[String: MLValue]], parallelCount: Int, run: @escaping RecordRunner) -> String {
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
                    do {
                        return (index, try await run(index, inputs))
                    } catch let error as MLDeployError {
                        return (index, .failure(service: service, errorMessage: error.description))
                    } catch {
                        return (index, .failure(service: service, errorMessage: String(describing: error)))
                    }
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
        self.executions[id]?.results[index] = response
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
            self.executions.removeValue(forKey: id)
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
        let items = includeResults ? execution.results.sorted { $0.key < $1.key }.map { BatchItem(index: $0.key, response: $0.value) } : []
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
        self.executions.removeValue(forKey: batch.executionID)
    }

    /// Cancels and deletes every execution of `service` (its version was deleted).
    public func cancelAll(for service: ServiceReference) {
        for id in self.executionIDs(for: service) {
            self.executions.removeValue(forKey: id)?.task?.cancel()
        }
    }

    /// Cancels and deletes every execution (the backend is shutting down).
    public func cancelAll() {
        for execution in self.executions.values { execution.task?.cancel() }
        self.executions.removeAll()
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
        guard let response = execution.results[index] else {
            throw MLDeployError.notFound("Record \(index) of batch '\(batch.executionID)' has not finished yet.")
        }
        return response
    }
}
