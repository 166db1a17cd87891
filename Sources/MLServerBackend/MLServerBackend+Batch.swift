import Foundation
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// `POST /api/{name}/{version}/batch?parallelCount=N` with the records; the execution id from
    /// `BatchExecutionId` (what ML Server sends) or `batchExecutionId` (what its swagger names).
    public func startBatch(_ request: BatchRequest) async throws -> String {
        let service = request.service
        let records = try request.records.map { JSONValue.object(try Self.inputsJSON($0, for: service)) }
        let answer = try await self.sendJSON(
            .post, Self.path("api", service.name, service.version, "batch"), query: "parallelCount=\(max(1, request.parallelCount))",
            json: .array(records), idempotent: false
        )
        guard let id = answer["BatchExecutionId"]?.stringValue ?? answer["batchExecutionId"]?.stringValue else {
            throw MLDeployError(code: .invalidResponse, message: "Starting a batch of \(service.name)/\(service.version) answered \(answer) without an execution id.")
        }
        return id
    }

    /// `GET …/batch/{id}?showPartialResult=…`: the state, counts and results (record `i` at index `i`).
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        let service = try await self.getService(batch.service.name, version: batch.service.version)
        let answer = try await self.sendJSON(
            .get, Self.path("api", service.name, service.version, "batch", batch.executionID), query: "showPartialResult=\(includeResults)"
        )
        guard let state = answer["state"]?.stringValue else {
            throw MLDeployError(code: .invalidResponse, message: "The status of batch \(batch) has no state: \(answer)")
        }
        let results = try (answer["batchExecutionResults"]?.arrayValue ?? []).enumerated().map { index, result in
            BatchItem(index: index, response: try ServiceResponse(webServiceResultJSON: result, service: service))
        }
        return BatchStatus(
            executionID: batch.executionID, state: BatchState(state),
            completedItemCount: answer["completedItemCount"]?.intValue ?? results.count,
            totalItemCount: answer["totalItemCount"]?.intValue ?? results.count,
            results: includeResults || BatchState(state).isFinished ? results : []
        )
    }

    /// `GET /api/{name}/{version}/batch`.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        try await self.sendJSON(.get, Self.path("api", service.name, service.version, "batch")).arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// `DELETE /api/{name}/{version}/batch/{id}`.
    public func cancelBatch(_ batch: BatchReference) async throws {
        try await self.send(.delete, Self.path("api", batch.service.name, batch.service.version, "batch", batch.executionID))
    }

    /// `GET …/batch/{id}/{index}/files`.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        let path = Self.path("api", batch.service.name, batch.service.version, "batch", batch.executionID, String(index), "files")
        return try await self.sendJSON(.get, path).arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// `GET …/batch/{id}/{index}/files/{name}`: the file's bytes.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        let path = Self.path("api", batch.service.name, batch.service.version, "batch", batch.executionID, String(index), "files", fileName)
        return Data(try await self.send(.get, path).bytes)
    }
}
