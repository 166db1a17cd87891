import CCurl
import Foundation
import MLDeploy
import Synchronization

/// The bridge between a streamed request body (read by a task) and libcurl's read callback (on the
/// loop thread). At most ``highWater`` bytes wait here; the producer waits when it is full, and the
/// transfer pauses when it is empty.
final class UploadPump: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var offset = 0
        var buffered = 0
        var finished = false
        var failure: (any Error)?
        var readPaused = false
        var stopped = false
        var producer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    let highWater: Int
    private let resumeNetwork: @Sendable () -> Void

    init(highWater: Int, resumeNetwork: @escaping @Sendable () -> Void) {
        self.highWater = max(highWater, 16 * 1024)
        self.resumeNetwork = resumeNetwork
    }

    /// The error the body's source threw, if it did.
    var failure: (any Error)? { self.state.withLock { $0.failure } }

    /// Loop thread: copies up to `capacity` bytes; returns the count, 0 at the end, or curl's pause or
    /// abort value.
    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let (count, wake): (Int, CheckedContinuation<Void, Never>?) = self.state.withLock { state in
            if state.failure != nil { return (Int(CURL_READFUNC_ABORT), nil) }
            var written = 0
            while written < capacity, !state.chunks.isEmpty {
                let chunk = state.chunks[0]
                let take = min(capacity - written, chunk.count - state.offset)
                chunk.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(buffer + written).copyMemory(from: source.baseAddress! + state.offset, byteCount: take)
                }
                written += take
                state.offset += take
                if state.offset == chunk.count {
                    state.chunks.removeFirst()
                    state.offset = 0
                }
            }
            state.buffered -= written
            if written == 0 {
                if state.finished { return (0, nil) }
                state.readPaused = true
                return (Int(CURL_READFUNC_PAUSE), nil)
            }
            if state.buffered <= self.highWater / 2, let producer = state.producer {
                state.producer = nil
                return (written, producer)
            }
            return (written, nil)
        }
        wake?.resume()
        return count
    }

    /// Producer task: reads `body` into the pump until its end, an error, or ``stop()``.
    func pump(_ body: HTTPBody) async {
        do {
            for try await chunk in body where !chunk.isEmpty {
                let (stop, resume): (Bool, Bool) = self.state.withLock { state in
                    if state.stopped { return (true, false) }
                    state.chunks.append(chunk)
                    state.buffered += chunk.count
                    defer { state.readPaused = false }
                    return (false, state.readPaused)
                }
                if stop { return }
                if resume { self.resumeNetwork() }
                await self.waitForRoom()
            }
            self.end(nil)
        } catch {
            self.end(error)
        }
    }

    private func waitForRoom() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait = self.state.withLock { state in
                guard !state.stopped, state.buffered > self.highWater else { return false }
                state.producer = continuation
                return true
            }
            if !wait { continuation.resume() }
        }
    }

    private func end(_ failure: (any Error)?) {
        let resume = self.state.withLock { state in
            state.finished = true
            state.failure = failure
            defer { state.readPaused = false }
            return state.readPaused
        }
        if resume { self.resumeNetwork() }
    }

    /// Loop thread: the transfer ended; release a waiting producer and refuse further chunks.
    func stop() {
        let producer = self.state.withLock { state in
            state.stopped = true
            state.chunks = []
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume()
    }
}
