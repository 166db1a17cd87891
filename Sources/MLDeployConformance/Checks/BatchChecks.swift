import Foundation
import MLDeploy

extension BackendConformance {
    /// Runs `body` when the backend has batch support; otherwise checks it refuses batches clearly.
    static func withBatchSupport(_ h: ConformanceHarness, _ body: (DeployClient, Service) async throws -> Void) async throws {
        let client = try await h.client()
        let service = try await h.deploy(Fixtures.slow(h, client))
        guard client.capabilities.contains(.batch) else {
            try await h.expectError(.unsupported, "batch on a backend without batch support") {
                try await service.batch([["x": 1, "delay": 0]])
            }
            return
        }
        try await body(client, service)
    }

    static let batchChecks: [ConformanceCheck] = [
        ConformanceCheck("batch-order-and-results", "batch results come back in record order whatever order records finish in") { h in
            try await withBatchSupport(h) { _, service in
                // Earlier records sleep longer, so with enough parallelism they finish last.
                let records: [[String: MLValue]] = (0..<6).map { ["x": .integer($0), "delay": .numeric(Double(6 - $0) * 0.05)] }
                let batch = try await service.batch(records, parallelCount: 6)
                let final = try await batch.wait(pollingInterval: .milliseconds(20))
                try h.expectEqual(final.state, .complete, "final state")
                try h.expectEqual(final.completedItemCount, 6, "completed")
                try h.expectEqual(final.totalItemCount, 6, "total")
                try h.expectEqual(final.results.map(\.index), Array(0..<6), "result indexes")
                for index in 0..<6 {
                    try h.expectEqual(final.response(at: index)?.output("y"), .integer(2 * index), "result of record \(index)")
                }
                try h.expect(try await service.batchExecutions().contains(batch.executionID), "the execution is listed")
            }
        },
        ConformanceCheck("batch-partial-results", "while a batch runs, its status reports the finished records and their results") { h in
            try await withBatchSupport(h) { _, service in
                // Records of 0.3 s one at a time: a status fetched right after one that showed
                // progress still finds the batch running, even on a loaded machine.
                let records: [[String: MLValue]] = (0..<5).map { ["x": .integer($0), "delay": 0.3] }
                let batch = try await service.batch(records, parallelCount: 1)
                var sawPartial = false
                var observed: [BatchStatus] = []
                for try await status in batch.progress(pollingInterval: .milliseconds(20)) {
                    observed.append(status)
                    if !status.isFinished, status.completedItemCount > 0 {
                        let partial = try await batch.status(includeResults: true)
                        try h.expect(partial.results.count == partial.completedItemCount, "results \(partial.results.count) ≠ completed \(partial.completedItemCount)")
                        for item in partial.results {
                            try h.expectEqual(item.response.output("y"), .integer(2 * item.index), "partial result of record \(item.index)")
                        }
                        if partial.completedItemCount < partial.totalItemCount { sawPartial = true }
                    }
                }
                try h.expect(sawPartial, "never observed a partially finished batch; statuses: \(observed.map { "\($0.state) \($0.completedItemCount)" })")
                try h.expect(observed.last?.isFinished == true, "progress ended before the batch finished")
                let counts = observed.map(\.completedItemCount)
                try h.expectEqual(counts, counts.sorted(), "progress never goes backwards")
            }
        },
        ConformanceCheck("batch-cancel", "cancelling a batch stops it and deletes it") { h in
            try await withBatchSupport(h) { _, service in
                // A record runs 8 s; a cancel that waited for it would take most of that. The bound
                // leaves room for a loaded machine (a full parallel test run on two cores).
                let records: [[String: MLValue]] = (0..<4).map { ["x": .integer($0), "delay": 8.0] }
                let batch = try await service.batch(records, parallelCount: 1)
                let started = ContinuousClock.now
                try await batch.cancel()
                try h.expect(ContinuousClock.now - started < .seconds(6), "cancel waited for the running record")
                try await h.expectError(.notFound, "status of a cancelled batch") { try await batch.status() }
                try h.expect(!(try await service.batchExecutions().contains(batch.executionID)), "a cancelled batch is still listed")
                try await h.expectError(.notFound, "cancelling twice") { try await batch.cancel() }
            }
        },
        ConformanceCheck("batch-artifacts", "each batch record keeps its own artifacts") { h in
            try await withBatchSupport(h) { client, service in
                let batch = try await service.batch([["x": 7, "delay": 0], ["x": 8, "delay": 0]], parallelCount: 2)
                _ = try await batch.wait(pollingInterval: .milliseconds(20))
                guard client.capabilities.contains(.batchArtifacts) else {
                    try await h.expectError(.unsupported, "batch artifacts on a backend without them") { try await batch.artifactNames(index: 0) }
                    return
                }
                for (index, x) in [(0, "7"), (1, "8")] {
                    try h.expectEqual(try await batch.artifactNames(index: index), ["x.txt"], "artifacts of record \(index)")
                    try h.expectEqual(try await batch.artifact(index: index, fileName: "x.txt"), Data(x.utf8), "artifact of record \(index)")
                }
                try await h.expectError(.notFound, "an artifact that does not exist") { try await batch.artifact(index: 0, fileName: "nope.txt") }
                try await h.expectError(.notFound, "a record that does not exist") { try await batch.artifactNames(index: 5) }
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(h.prefix + "download")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let files = try await batch.download(index: 1, to: directory)
                try h.expectEqual(files.map(\.lastPathComponent), ["x.txt"], "downloaded files")
                try h.expectEqual(try Data(contentsOf: files[0]), Data("8".utf8), "downloaded bytes")
            }
        },
        ConformanceCheck("batch-bad-input", "a batch with a bad record, no records or no inputs is refused before anything runs") { h in
            try await withBatchSupport(h) { client, service in
                let before = try await service.batchExecutions()
                let error = try await h.expectError(.inputMismatch, "a record missing an input") {
                    try await service.batch([["x": 1, "delay": 0], ["x": 2]])
                }
                try h.expect(error.message.contains("Record 1"), "the error names the record: \(error.message)")
                try await h.expectError(.invalidArgument, "no records") { try await service.batch([]) }
                try await h.expectError(.invalidArgument, "parallel count 0") { try await service.batch([["x": 1, "delay": 0]], parallelCount: 0) }
                try h.expectEqual(try await service.batchExecutions(), before, "executions after refused batches")
                let void = try await h.deploy(Fixtures.void(h, client))
                try await h.expectError(.invalidArgument, "a service without inputs") { try await void.batch([[:]]) }
            }
        },
    ]
}
