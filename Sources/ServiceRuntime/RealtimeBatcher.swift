import Dispatch
import Foundation
import Metrics
import MLDeploy
import MLDeployONNX
import Synchronization

/// Holds one model's concurrent calls for a moment and scores them as one frame
/// (``RealtimeBatching``). The first call of a batch starts its wait; the batch is scored when it
/// holds ``RealtimeBatching/maximumBatchSize`` rows or the wait is over, whichever comes first, on
/// the thread that completes it (the call that fills it — the batcher's queue for a batch of
/// ``RealtimeScorer/inlineRowLimit`` rows or more — or the timer's, on the batcher's queue).
final class RealtimeBatcher: Sendable {
    private struct Waiting: Sendable {
        let frame: DataFrame
        let continuation: CheckedContinuation<DataFrame, any Error>
    }

    private struct State: Sendable {
        var waiting: [Waiting] = []
        var rows = 0
        /// Which batch a pending timer belongs to: a timer that fires after its batch was scored
        /// (it filled up) leaves the next batch alone.
        var generation = 0
    }

    let model: ONNXModel
    let batching: RealtimeBatching
    /// Where the batch timers fire and large batches are scored: a queue of the batcher's own (its
    /// threads come from Dispatch's overcommitting pool), never the shared global queue, whose few
    /// threads other CPU-bound work (large frames, password hashing) can hold for seconds while a
    /// lone call waits for its timer.
    private static let queue = DispatchQueue(label: "mldeploy.realtime.batching", qos: .userInitiated, attributes: .concurrent)
    private let state = Mutex(State())
    private let counts = Mutex((calls: 0, batches: 0))

    init(model: ONNXModel, batching: RealtimeBatching) {
        self.model = model
        self.batching = batching
    }

    /// How many calls went through, in how many scored batches.
    var statistics: (calls: Int, batches: Int) { self.counts.withLock { $0 } }

    /// Scores `frame` as part of the next batch; its own rows come back.
    func score(_ frame: DataFrame) async throws -> DataFrame {
        try await withCheckedThrowingContinuation { continuation in
            let (full, timer): ([Waiting]?, Int?) = self.state.withLock { state in
                state.waiting.append(Waiting(frame: frame, continuation: continuation))
                state.rows += frame.rowCount
                if state.rows >= self.batching.maximumBatchSize {
                    defer { state = State(generation: state.generation + 1) }
                    return (state.waiting, nil)
                }
                return (nil, state.waiting.count == 1 ? state.generation : nil)
            }
            if let full {
                // A large batch is scored off the cooperative pool, as a large frame is.
                if full.reduce(0, { $0 + $1.frame.rowCount }) < RealtimeScorer.inlineRowLimit {
                    self.run(full)
                } else {
                    Self.queue.async { self.run(full) }
                }
            }
            if let generation = timer {
                let (seconds, attoseconds) = self.batching.maximumWait.components
                let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
                Self.queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                    let due: [Waiting]? = self.state.withLock { state in
                        guard state.generation == generation, !state.waiting.isEmpty else { return nil }
                        defer { state = State(generation: state.generation + 1) }
                        return state.waiting
                    }
                    if let due { self.run(due) }
                }
            }
        }
    }

    /// Scores `batch` as one frame and hands each caller its rows. Frames whose columns differ
    /// from the first's, and every frame when the batch fails as a whole (one call's bad cell), are
    /// scored alone, so each caller gets its own answer or error.
    private func run(_ batch: [Waiting]) {
        self.counts.withLock { $0.calls += batch.count; $0.batches += 1 }
        Recorder(label: "mldeploy_realtime_batch_rows").record(batch.reduce(0) { $0 + $1.frame.rowCount })
        let names = batch[0].frame.columnNames
        let together = batch.filter { $0.frame.columnNames == names }
        let alone = batch.filter { $0.frame.columnNames != names }
        for waiting in alone { waiting.continuation.resume(with: Result { try self.model.score(waiting.frame, cores: 1) }) }
        guard together.count > 1 else {
            for waiting in together { waiting.continuation.resume(with: Result { try self.model.score(waiting.frame, cores: 1) }) }
            return
        }
        guard let frame = try? DataFrame.stacking(together.map(\.frame)), let scored = try? self.model.score(frame, cores: 1), scored.rowCount == frame.rowCount else {
            for waiting in together { waiting.continuation.resume(with: Result { try self.model.score(waiting.frame, cores: 1) }) }
            return
        }
        var start = 0
        for waiting in together {
            let range = start..<(start + waiting.frame.rowCount)
            start = range.upperBound
            waiting.continuation.resume(returning: scored.rows(range))
        }
    }
}
