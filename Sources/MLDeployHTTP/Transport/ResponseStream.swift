import Foundation
import MLDeploy
import Synchronization

/// The bridge between libcurl's write callback (on the loop thread) and a reader of a streamed
/// response body (any task).
///
/// At most ``highWater`` bytes wait here: beyond that the write callback pauses the transfer, and the
/// reader resumes it when the buffer has drained to half. So a 10 GB download needs only a few
/// megabytes, however slow the reader.
final class ResponseStream: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var buffered = 0
        var paused = false
        var finished = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
    }

    private let state = Mutex(State())
    let highWater: Int
    /// Asks the loop to resume a paused transfer.
    private let resumeNetwork: @Sendable () -> Void
    /// Asks the loop to cancel the transfer (the reader went away or was cancelled).
    private let abandon: @Sendable () -> Void

    init(highWater: Int, resumeNetwork: @escaping @Sendable () -> Void, abandon: @escaping @Sendable () -> Void) {
        self.highWater = max(highWater, 16 * 1024)
        self.resumeNetwork = resumeNetwork
        self.abandon = abandon
    }

    /// Loop thread: takes a chunk, or refuses it because the buffer is full (the caller then pauses
    /// the transfer, and libcurl offers the same bytes again after it is resumed).
    func offer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        enum Outcome { case handOff(CheckedContinuation<[UInt8]?, any Error>), taken, refused }
        let outcome: Outcome = self.state.withLock { state in
            if state.finished { return .taken }  // the reader is gone; drop the bytes
            if let waiter = state.waiter {
                state.waiter = nil
                return .handOff(waiter)
            }
            if state.buffered >= self.highWater {
                state.paused = true
                return .refused
            }
            state.chunks.append(Array(bytes))
            state.buffered += bytes.count
            return .taken
        }
        switch outcome {
        case .handOff(let waiter):
            waiter.resume(returning: Array(bytes))
            return true
        case .taken:
            return true
        case .refused:
            return false
        }
    }

    /// Loop thread: the transfer ended, successfully (`nil`) or not.
    func finish(_ failure: (any Error)?) {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = self.state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            state.failure = failure
            defer { state.waiter = nil }
            return state.waiter
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    /// Reader: the next chunk, `nil` at the end.
    func next() async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                enum Action { case deliver([UInt8], resume: Bool), end, fail(any Error), wait }
                let action: Action = self.state.withLock { state in
                    if state.head < state.chunks.count {
                        let chunk = state.chunks[state.head]
                        state.head += 1
                        if state.head > 64 || state.head == state.chunks.count {
                            state.chunks.removeFirst(state.head)
                            state.head = 0
                        }
                        state.buffered -= chunk.count
                        let resume = state.paused && state.buffered <= self.highWater / 2
                        if resume { state.paused = false }
                        return .deliver(chunk, resume: resume)
                    }
                    if let failure = state.failure { return .fail(failure) }
                    if state.finished { return .end }
                    state.waiter = continuation
                    return .wait
                }
                switch action {
                case .deliver(let chunk, let resume):
                    if resume { self.resumeNetwork() }
                    continuation.resume(returning: chunk)
                case .end:
                    continuation.resume(returning: nil)
                case .fail(let failure):
                    continuation.resume(throwing: failure)
                case .wait:
                    break
                }
            }
        } onCancel: {
            self.cancelByReader()
        }
    }

    /// The reader stopped reading (cancelled, or dropped the body before its end).
    func cancelByReader() {
        let cancelled = MLDeployError(code: .cancelled, message: "Reading the response body was cancelled.")
        let (waiter, wasOpen): (CheckedContinuation<[UInt8]?, any Error>?, Bool) = self.state.withLock { state in
            let wasOpen = !state.finished
            state.finished = true
            if state.failure == nil { state.failure = cancelled }
            state.chunks = []
            state.buffered = 0
            defer { state.waiter = nil }
            return (state.waiter, wasOpen)
        }
        waiter?.resume(throwing: cancelled)
        if wasOpen { self.abandon() }
    }
}

/// Owned by the body's reader only: when the last copy of a streamed body is dropped before its end,
/// the transfer is cancelled so its connection and buffers are freed.
final class ResponseStreamReader: Sendable {
    let stream: ResponseStream

    init(_ stream: ResponseStream) {
        self.stream = stream
    }

    deinit {
        self.stream.cancelByReader()
    }
}
