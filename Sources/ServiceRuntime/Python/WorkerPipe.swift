import Foundation
import MLDeploy
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// One pipe between the host and a worker: the host's end, and the worker's end, which is handed
/// to the process at spawn (and closed here by the spawner).
///
/// Why the runtime owns its pipes instead of using swift-subprocess's stream I/O: that I/O keeps a
/// registry keyed by descriptor number and process id, and under heavy process churn (a full test
/// run on two cores: hundreds of short-lived processes, numbers reused within seconds) a worker's
/// answer was sometimes never reported — the call then waited until the queue bound. Blocking reads
/// and writes on threads of their own, never Swift's cooperative threads, have no such state.
/// Both ends are close-on-exec, so no other child inherits them and end of file arrives when the
/// worker's process tree is gone.
package struct WorkerPipe {
    /// The host's end.
    package let host: Int32
    /// The worker's end (its stdin's read end, or its stdout's or stderr's write end).
    package let worker: Int32

    /// A new pipe; `hostWrites` says which end is the host's.
    package static func make(hostWrites: Bool) throws -> WorkerPipe {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw MLDeployError(code: .pythonRuntimeUnavailable, message: "Could not make a pipe for a Python worker: \(String(cString: strerror(errno))).")
        }
        // Close-on-exec at once (Swift's Glibc has no pipe2); both spawners in this process
        // (swift-subprocess, Foundation's Process) close inherited descriptors in their children anyway.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return hostWrites ? WorkerPipe(host: ends[1], worker: ends[0]) : WorkerPipe(host: ends[0], worker: ends[1])
    }
}

/// Reads a descriptor to its end on a thread of its own and hands the chunks over as an async
/// sequence; closes the descriptor at the end.
package enum PipeReader {
    /// The chunks read from `descriptor`, on a thread named `name`, until end of file.
    package static func chunks(of descriptor: Int32, name: String) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        Self.forEachChunk(of: descriptor, name: name, { continuation.yield($0) }, end: { continuation.finish() })
        return stream
    }

    /// Calls `body` with each chunk read from `descriptor`, on a thread named `name` — no task hop,
    /// for readers that hand each message straight to whoever waits for it — then `end` at end of
    /// file; closes the descriptor.
    package static func forEachChunk(of descriptor: Int32, name: String, _ body: @escaping @Sendable ([UInt8]) -> Void, end: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    body(Array(buffer[0..<count]))
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break  // end of file, or an error: either way nothing more comes
                }
            }
            close(descriptor)
            end()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Writes to a worker's standard input, one frame at a time; closing it is the worker's end of input.
///
/// The descriptor is non-blocking. A frame the pipe takes at once (the common case: a call's
/// request is far smaller than the pipe's 64 KiB) is written by the caller, with no thread hop;
/// what does not fit is finished by a thread of the writer's own, which waits for the pipe to drain
/// — never a cooperative thread, nor Dispatch's shared pool, which blocking work elsewhere can
/// exhaust.
package final class PipeWriter: Sendable {
    private struct State {
        var pending: [(bytes: [UInt8], done: @Sendable (Int32?) -> Void)] = []
        var closed = false
    }

    private let descriptor: Int32
    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)

    /// A writer for `descriptor` (made non-blocking), with a thread named `name` for what does not fit at once.
    ///
    /// Making one ignores `SIGPIPE` in the process: a child (a Python worker, a backend plugin) that
    /// exits before or while it is written to must fail that write with `EPIPE`, not kill the host
    /// silently. (A backend plugin that exits at once — a missing configuration — did that to a
    /// `mldeploy` command that started no Python runtime, when the command wrote its handshake after
    /// the plugin was gone: it died without a word.)
    package init(_ descriptor: Int32, name: String = "mldeploy-worker-stdin") {
        _ = Self.ignoreBrokenPipes
        self.descriptor = descriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Ignores `SIGPIPE` once per process (writes to a pipe whose reader is gone then fail with `EPIPE`).
    package static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    private func run() {
        while true {
            self.wakeUp.wait()
            let next = self.state.withLock { state -> (bytes: [UInt8], done: @Sendable (Int32?) -> Void)?? in
                if !state.pending.isEmpty { return state.pending.removeFirst() }
                return state.closed ? .some(nil) : nil
            }
            guard let item = next else { continue }
            guard let (bytes, done) = item else { break }
            var rest = bytes[...]
            done(Self.write(&rest, to: self.descriptor, waiting: true))
        }
        try? FileDescriptor(rawValue: self.descriptor).close()
    }

    /// Writes `rest` to the non-blocking `descriptor`, dropping what was written from it. When the
    /// pipe is full it waits for room (`waiting`) or stops, leaving the remainder in `rest`. Returns
    /// the error number when a write fails (`EPIPE`: the worker is gone).
    private static func write(_ rest: inout ArraySlice<UInt8>, to descriptor: Int32, waiting: Bool) -> Int32? {
        while !rest.isEmpty {
            let count = rest.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                rest = rest.dropFirst(count)
            } else if count < 0, errno == EINTR {
                continue
            } else if count < 0, errno == EAGAIN {
                guard waiting else { return nil }
                var room = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&room, 1, -1)
            } else {
                return count < 0 ? errno : EIO
            }
        }
        return nil
    }

    /// What the caller's own attempt at a frame came to.
    private enum Attempt {
        case written
        case failed(Int32)
        /// Queued (whole, or what the pipe did not take) for the writer's thread.
        case queued
    }

    /// Writes all of `bytes`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/workerCrashed`` when the worker no longer reads
    ///   (`EPIPE`: it has exited), or the writer was closed.
    package func write(_ bytes: [UInt8]) async throws {
        let failure: Int32? = await withCheckedContinuation { continuation in
            self.send(bytes) { continuation.resume(returning: $0) }
        }
        if let failure {
            throw MLDeployError(code: .workerCrashed, message: "The Python worker stopped reading its input (\(String(cString: strerror(failure)))).")
        }
    }

    /// Writes all of `bytes`, then calls `done` with `nil`, or with the error number of a write that
    /// failed (`EPIPE`: the worker no longer reads) — from any thread, never blocking the caller:
    /// with nothing queued, what the pipe takes now is written at once (the common case, and then
    /// `done` runs before `send` returns); the rest is finished by the writer's thread.
    package func send(_ bytes: [UInt8], done: @escaping @Sendable (Int32?) -> Void) {
        // Under the lock, so frames stay in order.
        let attempt = self.state.withLock { state -> Attempt in
            guard !state.closed else { return .failed(EPIPE) }
            guard state.pending.isEmpty else {
                state.pending.append((bytes, done))
                return .queued
            }
            var rest = bytes[...]
            if let failure = Self.write(&rest, to: self.descriptor, waiting: false) { return .failed(failure) }
            if rest.isEmpty { return .written }
            state.pending.append((Array(rest), done))
            return .queued
        }
        switch attempt {
        case .written: done(nil)
        case .failed(let number): done(number)
        case .queued: self.wakeUp.signal()
        }
    }

    /// Closes the host's end once the frames already accepted are written: the worker sees the end
    /// of its input and exits.
    package func close() {
        let first = self.state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if first { self.wakeUp.signal() }
    }
}

/// `write(2)`, under a name that the writer's own `write` method does not shadow.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}
