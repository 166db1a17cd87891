import Foundation
import MLDeploy
import NIOCore
import PostgresNIO
import ServiceRuntime

/// Batch executions as rows (``PostgresBatchQueue``): started, watched, listed, cancelled and read
/// through any process on the database, run by any of them.
extension PostgresBackend {
    /// Stores the execution and its records in one transaction and wakes every process's workers;
    /// returns the execution id at once.
    public func startBatch(_ request: BatchRequest) async throws -> String {
        let (info, _, _) = try await self.executable(request.service.name, request.service.version)
        let records = try request.records.map { record -> String in
            var object = JSONObject()
            for (name, value) in try info.bindInputs(record).sorted(by: { $0.key < $1.key }) { object.append(name, try value.jsonValue()) }
            return String(decoding: try JSONValue.object(object).serializedBytes(), as: UTF8.self)
        }
        let id = UUID().uuidString.lowercased()
        // More slots than workers anywhere can use add nothing; the cap keeps the slot search small.
        let (name, version, parallel) = (info.name, info.version, min(max(1, request.parallelCount), PostgresBatchQueue.maximumParallel))
        try await self.db.run("starting a batch of \(name)/\(version)", timeout: self.db.writeTimeout) {
            try await self.db.client.withTransaction(logger: self.logger) { connection in
                try await connection.query(
                    "INSERT INTO mldeploy_batches (id, name, version, total, parallel) VALUES (\(id), \(name), \(version), \(records.count), \(parallel))",
                    logger: self.logger
                )
                for (index, inputs) in records.enumerated() {
                    try await connection.query("INSERT INTO mldeploy_batch_records (batch, index, inputs) VALUES (\(id), \(index), \(inputs))", logger: self.logger)
                }
                try await connection.query("SELECT pg_notify(\(ManifestCache.channel), \(PostgresBatchQueue.wakePrefix + id))", logger: self.logger)
            }
        }
        BatchInstrumentation.started(service: info, records: records.count)
        self.batchQueue?.wake()
        return id
    }

    /// The execution (not cancelled) of `batch`'s service: its total, and whether a record started.
    private func execution(_ batch: BatchReference) async throws -> (total: Int, started: Bool) {
        let (id, name, version) = (batch.executionID, batch.service.name, batch.service.version)
        let found = try await self.db.run("reading batch \(id)") {
            var found: (Int, Bool)?
            for try await (total, started) in try await self.db.client.query(
                "SELECT total, started_at IS NOT NULL FROM mldeploy_batches WHERE id = \(id) AND name = \(name) AND version = \(version) AND NOT cancelled",
                logger: self.logger
            ).decode((Int, Bool).self) {
                found = (total, started)
            }
            return found
        }
        guard let found else { throw MLDeployError.notFound("No batch execution '\(id)' for service \(batch.service).") }
        return found
    }

    /// The finished records' results, by index (`only` one index when given).
    private func results(_ batch: BatchReference, only index: Int? = nil) async throws -> [Int: ByteBuffer] {
        let id = batch.executionID
        return try await self.db.run("reading batch \(id)") {
            var results: [Int: ByteBuffer] = [:]
            let query: PostgresQuery =
                index.map { "SELECT index, result FROM mldeploy_batch_records WHERE batch = \(id) AND index = \($0) AND result IS NOT NULL" }
                ?? "SELECT index, result FROM mldeploy_batch_records WHERE batch = \(id) AND result IS NOT NULL"
            for try await (index, bytes) in try await self.db.client.query(query, logger: self.logger).decode((Int, ByteBuffer).self) {
                results[index] = bytes
            }
            return results
        }
    }

    private func response(_ bytes: ByteBuffer, of batch: BatchReference, info: ServiceInfo) throws -> ServiceResponse {
        do {
            return try ServiceResponse(webServiceResultJSON: try JSONValue(parsing: Array(bytes.readableBytesView)), service: info)
        } catch {
            throw MLDeployError(code: .storageFailure, message: "A stored result of batch '\(batch.executionID)' is unreadable: \(error).")
        }
    }

    /// The execution's state and, if asked, its finished records' responses in record order.
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        let (total, started) = try await self.execution(batch)
        let results = try await self.results(batch)
        var items: [BatchItem] = []
        if includeResults, !results.isEmpty {
            let info = try await self.getService(batch.service.name, version: batch.service.version)
            items = try results.sorted { $0.key < $1.key }.map { BatchItem(index: $0.key, response: try self.response($0.value, of: batch, info: info)) }
        }
        let state: BatchState = results.count == total ? .complete : started ? .inProgress : .pending
        return BatchStatus(executionID: batch.executionID, state: state, completedItemCount: results.count, totalItemCount: total, results: items)
    }

    /// The version's executions (not cancelled), oldest first.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        _ = try await self.getService(service.name, version: service.version)
        return try await self.executionIDs(of: service)
    }

    /// The ids of `service`'s executions that are not cancelled, oldest first.
    private func executionIDs(of service: ServiceReference) async throws -> [String] {
        let (name, version) = (service.name, service.version)
        return try await self.db.run("listing batches of \(name)/\(version)") {
            var ids: [String] = []
            for try await id in try await self.db.client.query(
                "SELECT id FROM mldeploy_batches WHERE name = \(name) AND version = \(version) AND NOT cancelled ORDER BY created_at, id", logger: self.logger
            ).decode(String.self) {
                ids.append(id)
            }
            return ids
        }
    }

    /// Cancels and deletes an execution: gone for every reader at once; records running somewhere
    /// finish and are discarded.
    public func cancelBatch(_ batch: BatchReference) async throws {
        _ = try await self.execution(batch)
        try await self.cancel(ids: [batch.executionID])
    }

    /// Cancels every execution of a deleted version.
    func cancelBatches(of service: ServiceReference) async throws {
        try await self.cancel(ids: try await self.executionIDs(of: service))
    }

    private func cancel(ids: [String]) async throws {
        for id in ids {
            try await self.db.run("cancelling batch \(id)") {
                try await self.db.client.withTransaction(logger: self.logger) { connection in
                    try await connection.query("UPDATE mldeploy_batches SET cancelled = true WHERE id = \(id)", logger: self.logger)
                    // Records not running now go at once; running ones are discarded when they finish.
                    try await connection.query(
                        """
                        DELETE FROM mldeploy_batch_records WHERE batch = \(id) AND index IN
                            (SELECT index FROM mldeploy_batch_records WHERE batch = \(id) FOR UPDATE SKIP LOCKED)
                        """,
                        logger: self.logger
                    )
                    try await connection.query(
                        "DELETE FROM mldeploy_batches b WHERE b.id = \(id) AND NOT EXISTS (SELECT 1 FROM mldeploy_batch_records r WHERE r.batch = b.id)",
                        logger: self.logger
                    )
                }
            }
        }
    }

    /// One finished record's response.
    private func finishedRecord(_ batch: BatchReference, index: Int) async throws -> ServiceResponse {
        let (total, _) = try await self.execution(batch)
        guard (0..<total).contains(index) else {
            throw MLDeployError.notFound("Batch '\(batch.executionID)' has records 0..<\(total); there is no record \(index).")
        }
        guard let bytes = try await self.results(batch, only: index)[index] else {
            throw MLDeployError.notFound("Record \(index) of batch '\(batch.executionID)' has not finished yet.")
        }
        return try self.response(bytes, of: batch, info: try await self.getService(batch.service.name, version: batch.service.version))
    }

    /// The artifact names of one finished record.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        try await self.finishedRecord(batch, index: index).artifactNames
    }

    /// The bytes of one artifact of one finished record.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        guard let data = try await self.finishedRecord(batch, index: index).artifact(fileName) else {
            throw MLDeployError.notFound("Record \(index) of batch '\(batch.executionID)' has no artifact '\(fileName)'.")
        }
        return data
    }
}
