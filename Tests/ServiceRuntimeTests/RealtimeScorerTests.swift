import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import ServiceRuntime
import Synchronization
import Testing

@Suite("RealtimeScorer")
struct RealtimeScorerTests {
    /// How many large calls have started and finished.
    final class Progress: Sendable {
        let started = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
    }

    static let service = ServiceInfo(
        name: "rt", version: "1", inputs: RealtimeDefinition.inputs, outputs: RealtimeDefinition.outputs, runtime: .realtime
    )
    /// y = 2a − b + 0.5: a real ONNX model (LinearRegressor).
    static let model = ONNXModel.linearRegressor(coefficients: [2, -1], intercept: 0.5)

    static func frame(rows: Int) throws -> DataFrame {
        try DataFrame(columns: [
            DataFrame.Column(name: "a", values: (0..<rows).map { .numeric(Double($0 % 100)) }),
            DataFrame.Column(name: "b", values: (0..<rows).map { .numeric(Double($0 % 7)) }),
        ])
    }

    @Test("small frames score inline and large ones off the cooperative pool, with the same answers")
    func answers() async throws {
        let scorer = RealtimeScorer()
        for rows in [1, RealtimeScorer.inlineRowLimit - 1, RealtimeScorer.inlineRowLimit, 5_000] {
            let frame = try Self.frame(rows: rows)
            let response = try await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(frame)])
            let scored = try #require(response.output("outputData")?.dataFrameValue)
            #expect(scored == (try ONNXModel(data: Self.model).score(frame)), "\(rows) rows")
            #expect(scored["variable"]?.last?.doubleValue == 2 * Double((rows - 1) % 100) - Double((rows - 1) % 7) + 0.5)
        }
        await #expect { try await scorer.score(Self.service, bytes: Self.model, inputs: ["other": .integer(1)]) } throws: {
            ($0 as? MLDeployError)?.code == .inputMismatch
        }
    }

    /// Set in the child process that runs the scheduling check alone.
    static let isolated = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_SCHEDULING_CHECK"] != nil

    /// The check needs the cooperative pool to itself: in the full parallel suite other tests'
    /// blocking calls hold cooperative threads too, and the small call's wait would measure them.
    /// So this test runs the check below in a child process of the same test binary, alone.
    @Test("large frames being scored on every core leave the cooperative threads free for small calls", .enabled(if: !isolated))
    func largeFramesDoNotHoldCooperativeThreads() async throws {
        let child = try await runAloneInChildProcess(filter: "largeFramesLeaveTheCooperativePool", environmentKey: "MLDEPLOY_ISOLATED_SCHEDULING_CHECK")
        #expect(child.status == 0 && child.output.contains("with 1 test"), "\(child.output)")
    }

    @Test("large frames on every core leave the cooperative pool, alone", .enabled(if: isolated))
    func largeFramesLeaveTheCooperativePool() async throws {
        let scorer = RealtimeScorer()
        let big = try Self.frame(rows: 1_000_000)
        let small = try Self.frame(rows: 1)
        let progress = Progress()
        // One large frame per core: scored inline they would occupy every cooperative thread, and
        // the small call (this task) could not even resume until one of them finished.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<cores {
                group.addTask {
                    progress.started.add(1, ordering: .sequentiallyConsistent)
                    _ = try await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(big)])
                    progress.finished.add(1, ordering: .sequentiallyConsistent)
                }
            }
            while progress.started.load(ordering: .sequentiallyConsistent) < cores { await Task.yield() }
            try await Task.sleep(for: .milliseconds(20))
            _ = try await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(small)])
            #expect(progress.finished.load(ordering: .sequentiallyConsistent) == 0, "a small call waited for the large frames")
            try await group.waitForAll()
        }
        #expect(progress.finished.load(ordering: .sequentiallyConsistent) == cores)
    }
}
