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

@Suite("RealtimeScorer: adaptive batching")
struct RealtimeBatchingTests {
    static let service = RealtimeScorerTests.service
    static let model = RealtimeScorerTests.model

    static func row(_ a: Double, _ b: MLScalar = .numeric(1)) throws -> DataFrame {
        try DataFrame(columns: [DataFrame.Column(name: "a", values: [.numeric(a)]), DataFrame.Column(name: "b", values: [b])])
    }

    @Test("concurrent single-row calls are scored in shared batches, each caller getting its own row; a bad row fails only its own call")
    func batches() async throws {
        let scorer = RealtimeScorer()
        scorer.configureBatching(["rt": RealtimeBatching(maximumBatchSize: 16, maximumWait: .milliseconds(200))])
        let calls = 48
        let answers = try await withThrowingTaskGroup(of: (Int, Double?).self) { group in
            for index in 0..<calls {
                group.addTask {
                    let response = try await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(try Self.row(Double(index)))])
                    return (index, response.output("outputData")?.dataFrameValue?["variable"]?.first?.doubleValue)
                }
            }
            return try await group.reduce(into: [Int: Double?]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<calls {
            #expect(answers[index] == 2 * Double(index) - 1 + 0.5, "call \(index) got \(String(describing: answers[index]))")
        }
        let statistics = try #require(scorer.batchingStatistics(for: Self.service.reference))
        #expect(statistics.calls == calls)
        #expect(statistics.batches < calls / 2, "\(statistics.batches) batches for \(calls) calls")

        // One call's cell is not a number: that call alone fails, the others of its batch answer.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let frame = try? Self.row(Double(index), index == 3 ? .character("x") : .numeric(1))
                    return (try? await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(frame!)])) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0 }.count == 1 && outcomes.count == 8)
    }

    @Test("a lone call is not held past the batch's wait; services without a rule are not batched", .timeLimit(.minutes(1)))
    func waitAndScope() async throws {
        let scorer = RealtimeScorer()
        scorer.configureBatching(["rt/1": RealtimeBatching(maximumBatchSize: 64, maximumWait: .milliseconds(20))])
        let clock = ContinuousClock(), started = clock.now
        let response = try await scorer.score(Self.service, bytes: Self.model, inputs: ["inputData": .dataFrame(try Self.row(3))])
        #expect(response.output("outputData")?.dataFrameValue?["variable"]?.first?.doubleValue == 5.5)
        // A lone call's timer fires after 20 ms; the bound only catches a call held far beyond it
        // (a loaded CI machine delays any timer by seconds).
        #expect(clock.now - started < .seconds(30), "a lone call was held")
        #expect(scorer.batchingStatistics(for: Self.service.reference)?.batches == 1)
        let other = ServiceInfo(name: "rt", version: "2", inputs: RealtimeDefinition.inputs, outputs: RealtimeDefinition.outputs, runtime: .realtime)
        _ = try await scorer.score(other, bytes: Self.model, inputs: ["inputData": .dataFrame(try Self.row(3))])
        #expect(scorer.batchingStatistics(for: other.reference) == nil)
    }

    @Test("the realtime.batching option is read, and mistakes are named with the expected form")
    func option() async throws {
        let rules = try RealtimeBatching.rules(options: ["realtime.batching": "cars/1.0:32:500us, *:8:2ms"])
        #expect(rules["cars/1.0"] == RealtimeBatching(maximumBatchSize: 32, maximumWait: .microseconds(500)))
        #expect(rules["*"] == RealtimeBatching(maximumBatchSize: 8, maximumWait: .milliseconds(2)))
        #expect(try RealtimeBatching.rules(options: [:]).isEmpty)
        for (bad, phrase) in [("cars:1:2ms", "batch size"), ("cars:32", "needs a service"), ("cars:32:5", "with a unit"), ("cars:32:2s", "at most 1s"),
                              (":32:2ms", "service is empty"), ("a:8:1ms,a:9:1ms", "more than one entry")] {
            #expect { try RealtimeBatching.rules(options: ["realtime.batching": bad]) } throws: {
                ($0 as? MLDeployError).map { $0.code == .invalidArgument && $0.message.contains(phrase) && $0.message.contains("SERVICE:SIZE:WAIT") } ?? false
            }
        }
    }
}
