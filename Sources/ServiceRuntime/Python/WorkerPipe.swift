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
struct WorkerPipe {
    /// The host's end.
    let host: Int32
    /// The worker's end (its stdin's read end, or its stdout's or stderr's write end).
    let worker: Int32

    /// A new pipe; `hostWrites` says which end is the host's.
    static func make(hostWrites: Bool) throws -> WorkerPipe {
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
enum PipeReader {
    static func chunks(of descriptor: Int32, name: String) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    continuation.yield(Array(buffer[0..<count]))
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break  // end of file, or an error: either way nothing more comes
                }
            }
            close(descriptor)
            continuation.finish()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
        return stream
    }
}

/// Writes to a worker's standard input with blocking writes on a thread of its own (never a
/// cooperative thread, nor Dispatch's shared pool, which blocking work elsewhere can exhaust), one
/// frame at a time; closing it is the worker's end of input.
final class PipeWriter: Sendable {
    private struct State {
        var pending: [(bytes: [UInt8], done: CheckedContinuation<Int32?, Never>)] = []
        var closed = false
    }

    private let descriptor: Int32
    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)

    init(_ descriptor: Int32, name: String = "mldeploy-worker-stdin") {
        self.descriptor = descriptor
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func run() {
        while true {
            self.wakeUp.wait()
            let next = self.state.withLock { state -> (bytes: [UInt8], done: CheckedContinuation<Int32?, Never>)?? in
                if !state.pending.isEmpty { return state.pending.removeFirst() }
                return state.closed ? .some(nil) : nil
            }
            guard let item = next else { continue }
            guard let (bytes, done) = item else { break }
            do {
                _ = try bytes.withUnsafeBytes { try FileDescriptor(rawValue: self.descriptor).writeAll($0) }
                done.resume(returning: nil)
            } catch let error as Errno {
                done.resume(returning: error.rawValue)
            } catch {
                done.resume(returning: EIO)
            }
        }
        try? FileDescriptor(rawValue: self.descriptor).close()
    }

    /// Writes all of `bytes`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/workerCrashed`` when the worker no longer reads
    ///   (`EPIPE`: it has exited), or the writer was closed.
    func write(_ bytes: [UInt8]) async throws {
        let failure: Int32? = await withCheckedContinuation { continuation in
            let accepted = self.state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending.append((bytes, continuation))
                return true
            }
            if accepted { self.wakeUp.signal() } else { continuation.resume(returning: EPIPE) }
        }
        if let failure {
            throw MLDeployError(code: .workerCrashed, message: "The Python worker stopped reading its input (\(String(cString: strerror(failure)))).")
        }
    }

    /// Closes the host's end once the frames already accepted are written: the worker sees the end
    /// of its input and exits.
    func close() {
        let first = self.state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if first { self.wakeUp.signal() }
    }
}
