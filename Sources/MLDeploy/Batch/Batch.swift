import Foundation

/// A running (or finished) batch execution of a service: many records, each one call.
///
/// Start one with ``Service/batch(_:parallelCount:)``; reattach to an existing one with
/// ``Service/batch(executionID:)``.
///
/// ```swift
/// let batch = try await service.batch([["hp": 120, "wt": 2.8], ["hp": 130, "wt": 3.0]], parallelCount: 2)
/// for try await status in batch.progress() {
///     print("\(status.completedItemCount)/\(status.totalItemCount)")
/// }
/// let final = try await batch.results()
/// final.response(at: 0)?.output("answer")
/// ```
public struct Batch: Sendable {
    /// The service the batch runs.
    public let service: Service
    /// The execution id.
    public let executionID: String

    /// Attaches to execution `executionID` of `service`.
    public init(service: Service, executionID: String) {
        self.service = service
        self.executionID = executionID
    }

    /// The execution's reference.
    public var reference: BatchReference {
        BatchReference(service: self.service.info.reference, executionID: self.executionID)
    }

    private var client: DeployClient { self.service.client }

    /// The current state, progress and — when `includeResults` — the results of finished records.
    ///
    /// - Throws: ``MLDeployError/Code/notFound`` if the execution does not exist (or was cancelled).
    public func status(includeResults: Bool = true) async throws -> BatchStatus {
        try self.client.require(.batch, for: "batch execution")
        var status = try await self.client.perform(.batchStatus, service: self.service.info.name, version: self.service.info.version, detail: self.executionID) {
            try await self.client.backend.batchStatus(self.reference, includeResults: includeResults)
        }
        status.results = status.results.map { BatchItem(index: $0.index, response: $0.response.keepingArtifacts(declaredBy: self.service.info)) }
        return status
    }

    /// The state and the results of every finished record (the Python SDK's `results()`).
    public func results() async throws -> BatchStatus {
        try await self.status(includeResults: true)
    }

    /// Waits until the execution finishes and returns its final status with all results.
    ///
    /// - Parameter pollingInterval: How often to ask the backend.
    public func wait(pollingInterval: Duration = .milliseconds(100)) async throws -> BatchStatus {
        while true {
            let status = try await self.status(includeResults: false)
            if status.isFinished { return try await self.status(includeResults: true) }
            try await Task.sleep(for: pollingInterval)
        }
    }

    /// The execution's progress as it happens: a status (without results) each time the completed
    /// count or the state changes, ending after the finished status.
    ///
    /// Cancelling the consuming task stops the polling; it does not cancel the batch (use ``cancel()``).
    public func progress(pollingInterval: Duration = .milliseconds(100)) -> AsyncThrowingStream<BatchStatus, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var last: (Int, BatchState)?
                do {
                    while !Task.isCancelled {
                        let status = try await self.status(includeResults: false)
                        if last == nil || last! != (status.completedItemCount, status.state) {
                            last = (status.completedItemCount, status.state)
                            continuation.yield(status)
                        }
                        if status.isFinished { break }
                        try await Task.sleep(for: pollingInterval)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Cancels the execution and deletes it; records still running are abandoned.
    public func cancel() async throws {
        try self.client.require(.batch, for: "batch execution")
        try await self.client.perform(.cancelBatch, service: self.service.info.name, version: self.service.info.version, detail: self.executionID) {
            try await self.client.backend.cancelBatch(self.reference)
        }
    }

    /// The artifact file names record `index` produced (only those the service declares).
    public func artifactNames(index: Int) async throws -> [String] {
        try self.client.require(.batchArtifacts, for: "batch artifacts")
        let names = try await self.client.perform(.batchArtifacts, service: self.service.info.name, version: self.service.info.version, detail: "\(self.executionID)[\(index)]") {
            try await self.client.backend.batchArtifactNames(self.reference, index: index)
        }
        return names.filter { self.service.info.artifacts.contains($0) }
    }

    /// The bytes of artifact `fileName` of record `index`.
    public func artifact(index: Int, fileName: String) async throws -> Data {
        try self.client.require(.batchArtifacts, for: "batch artifacts")
        try NameRules.checkArtifactName(fileName)
        guard self.service.info.artifacts.contains(fileName) else {
            throw MLDeployError.notFound("Service '\(self.service.name)' declares no artifact '\(fileName)'; its artifacts: \(self.service.info.artifacts.joined(separator: ", ")).")
        }
        return try await self.client.perform(.batchArtifacts, service: self.service.info.name, version: self.service.info.version, detail: "\(self.executionID)[\(index)]/\(fileName)") {
            try await self.client.backend.batchArtifact(self.reference, index: index, fileName: fileName)
        }
    }

    /// Saves the artifacts of record `index` (one, or all when `fileName` is `nil`) into `directory`.
    ///
    /// Each file is written to a temporary name and renamed into place, so a failure never leaves a
    /// half-written file. Names a backend returns are checked, so a hostile server cannot write
    /// outside `directory`.
    ///
    /// - Returns: The files written.
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArgument``) if `directory` does not exist.
    @discardableResult
    public func download(index: Int, fileName: String? = nil, to directory: URL) async throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MLDeployError.invalidArgument("No such directory \"\(directory.path)\"; create it before downloading artifacts.")
        }
        let names: [String]
        if let fileName {
            names = [fileName]
        } else {
            names = try await self.artifactNames(index: index)
        }
        var written: [URL] = []
        for name in names {
            try NameRules.checkArtifactName(name)
            let data = try await self.artifact(index: index, fileName: name)
            let destination = directory.appendingPathComponent(name)
            try data.write(to: destination, options: .atomic)
            written.append(destination)
        }
        return written
    }
}

extension Service {
    /// Starts a batch execution: one call per record, up to `parallelCount` at a time. Every record is
    /// checked against the input schema before anything starts.
    ///
    /// - Parameters:
    ///   - records: One input set per record; results come back in this order.
    ///   - parallelCount: How many records may run at once (default 10, as in the Python SDK).
    /// - Throws: ``MLDeployError``: ``MLDeployError/Code/invalidArgument`` for a service without inputs,
    ///   no records or a parallel count below 1; ``MLDeployError/Code/inputMismatch`` naming the first
    ///   bad record; ``MLDeployError/Code/unsupported`` if the backend has no batch support.
    public func batch(_ records: [[String: MLValue]], parallelCount: Int = 10) async throws -> Batch {
        try self.client.require(.batch, for: "batch execution")
        guard !self.info.inputs.isEmpty else {
            throw MLDeployError.invalidArgument("Attempt to batch a service with void inputs: '\(self.name)' takes no inputs.")
        }
        guard !records.isEmpty else {
            throw MLDeployError.invalidArgument("A batch needs at least one record.")
        }
        guard parallelCount >= 1 else {
            throw MLDeployError.invalidArgument("The parallel count must be at least 1, not \(parallelCount).")
        }
        var bound: [[String: MLValue]] = []
        bound.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            do {
                bound.append(try self.info.bindInputs(record))
            } catch var error as MLDeployError {
                error.message = "Record \(index): " + error.message
                throw error
            }
        }
        let request = BatchRequest(service: self.info, records: bound, parallelCount: parallelCount)
        let id = try await self.client.perform(.startBatch, service: self.info.name, version: self.info.version, detail: "\(records.count) records") {
            try await self.client.backend.startBatch(request)
        }
        return Batch(service: self, executionID: id)
    }

    /// Starts a batch with one record per row of `frame`; columns are matched to inputs by name.
    public func batch(_ frame: DataFrame, parallelCount: Int = 10) async throws -> Batch {
        let records = (0..<frame.rowCount).map { row in
            frame.row(row).mapValues(MLValue.init)
        }
        return try await self.batch(records, parallelCount: parallelCount)
    }

    /// Reattaches to an existing batch execution (no request is made).
    public func batch(executionID: String) -> Batch {
        Batch(service: self, executionID: executionID)
    }

    /// The ids of this service version's batch executions.
    public func batchExecutions() async throws -> [String] {
        try self.client.require(.batch, for: "batch execution")
        return try await self.client.perform(.listBatchExecutions, service: self.info.name, version: self.info.version) {
            try await self.client.backend.listBatchExecutions(self.info.reference)
        }
    }
}
