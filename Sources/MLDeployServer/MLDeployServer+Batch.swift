import Foundation
import Hummingbird
import MLDeploy
import Synchronization

extension MLDeployServer {
    /// Batch, ML Server's per-service batch API: start, list, status with partial results, cancel, and each record's
    /// artifact files. Indices are 0-based, matching `batchExecutionResults`.
    func addBatchRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/:name/:version/batch") { request, context -> Response in
            var request = request
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
            let parallelText = request.uri.queryParameters.get("parallelCount")
            return try await self.answering {
                let service = try await self.service(context)
                guard let records = body.arrayValue else {
                    throw MLDeployError(code: .inputMismatch, message: "A batch is a JSON array of input objects.")
                }
                let parallelCount = try parallelText.map { text -> Int in
                    guard let count = Int(text), (1...1000).contains(count) else {
                        throw MLDeployError.invalidArgument("parallelCount must be a whole number from 1 to 1000, not '\(text)'.")
                    }
                    return count
                } ?? 10
                let batch = try await service.batch(try records.map { try Self.inputs($0, for: service.info) }, parallelCount: parallelCount)
                let owner = context.user ?? ""
                try await self.state.transaction { try await $0.set(batch.executionID, Data(owner.utf8), in: .batchOwners) }
                // Both spellings: the SDK reads BatchExecutionId, swagger clients batchExecutionId.
                return try Response.json(["BatchExecutionId": .string(batch.executionID), "batchExecutionId": .string(batch.executionID)], status: .accepted)
            }
        }
        router.get("/api/:name/:version/batch") { _, context -> Response in
            try await self.answering {
                var executions: [String] = []
                for execution in try await self.service(context).batchExecutions() where try await self.mayReach(batch: execution, context) {
                    executions.append(execution)
                }
                return try Response.json(.array(executions.map(JSONValue.string)))
            }
        }
        router.get("/api/:name/:version/batch/:execution") { request, context -> Response in
            let flag = request.uri.queryParameters.get("showPartialResult") ?? request.uri.queryParameters.get("showPartialResults")
            let partial = flag?.lowercased() == "true"
            return try await self.answering {
                let batch = try await self.batch(context)
                let status = try await batch.status(includeResults: true)
                return try Response.json(Self.batchJSON(status, partial: partial))
            }
        }
        router.delete("/api/:name/:version/batch/:execution") { _, context -> Response in
            try await self.answering {
                let batch = try await self.batch(context)
                try await batch.cancel()
                try await self.state.transaction { try await $0.remove(batch.executionID, in: .batchOwners) }
                return try Response.json([.string(batch.executionID)])
            }
        }
        router.get("/api/:name/:version/batch/:execution/:index/files") { _, context -> Response in
            let index = try Self.index(context)
            return try await self.answering {
                try Response.json(.array(try await self.batch(context).artifactNames(index: index).map(JSONValue.string)))
            }
        }
        router.get("/api/:name/:version/batch/:execution/:index/files/:file") { _, context -> Response in
            let (index, file) = (try Self.index(context), try context.pathParameter("file"))
            return try await self.answering {
                let bytes = try await self.batch(context).artifact(index: index, fileName: file)
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
    }

    /// ML Server's `BatchWebServiceResult`: every result once the batch has finished; while it
    /// runs, with partial results asked for, the finished results of records 0, 1, 2, … up to the
    /// first unfinished one, so `batchExecutionResults[i]` is always record `i`.
    static func batchJSON(_ status: BatchStatus, partial: Bool) -> JSONValue {
        var results: [JSONValue] = []
        if status.isFinished || partial {
            let byIndex = Dictionary(status.results.map { ($0.index, $0.response) }, uniquingKeysWith: { first, _ in first })
            var index = 0
            while let response = byIndex[index] {
                results.append(response.webServiceResultJSON())
                index += 1
            }
        }
        return [
            "state": .string(status.state.rawValue), "completedItemCount": .integer(status.completedItemCount),
            "totalItemCount": .integer(status.totalItemCount), "batchExecutionResults": .array(results),
        ]
    }

    /// The service a `/api/{name}/{version}/…` request names.
    func service(_ context: ServerRequestContext) async throws -> Service {
        try await self.client.getService(try context.pathParameter("name"), version: try context.pathParameter("version"))
    }

    /// The batch execution a `/api/{name}/{version}/batch/{execution}/…` request names — when the
    /// caller may reach it: another user's execution is not found, as another user's session is.
    func batch(_ context: ServerRequestContext) async throws -> Batch {
        let execution = try context.pathParameter("execution")
        guard try await self.mayReach(batch: execution, context) else {
            throw MLDeployError(code: .notFound, message: "There is no batch execution '\(execution)' of yours.")
        }
        return try await self.service(context).batch(executionID: execution)
    }

    /// Whether the caller may see `execution`: its starter, or an Owner (who sees every execution,
    /// including those this server did not start).
    func mayReach(batch execution: String, _ context: ServerRequestContext) async throws -> Bool {
        if context.role == .owner { return true }
        return try await self.state.value(execution, in: .batchOwners).map { String(decoding: $0, as: UTF8.self) } == context.user
    }

    static func index(_ context: ServerRequestContext) throws -> Int {
        let text = try context.pathParameter("index")
        guard let index = Int(text), index >= 0 else {
            throw ServerError(.badRequest, "The record index must be a whole number from 0, not '\(text)'.", exceptionType: "invalid-argument")
        }
        return index
    }
}
