import Foundation
import Synchronization

/// The plugin's protocol thread, which is also the task executor its requests prefer.
///
/// Why: handing each request from a reading thread to Swift's global pool costs a thread wake-up
/// per request, and on small machines that wake-up — not the pipe, nor the JSON — was most of a
/// plugin round trip. Here the thread that reads a request also starts and runs its task, and
/// writes the answer, so a request costs the one wake-up the pipe's read needs. Work a request
/// awaits elsewhere (a Python worker's answer, a timer) is enqueued back to this thread, which
/// then wakes through a pipe of its own. Unstructured tasks a backend starts (`Task {}`) still run on the
/// global pool, so long background work (batches) does not hold the loop.
final class PluginRunLoop: TaskExecutor, @unchecked Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let stopped = Mutex(false)
    /// A pipe whose read end the loop watches; a byte written wakes it (the self-pipe trick).
    private let wakeUp: (read: Int32, write: Int32)
    private let thread = Mutex<pthread_t?>(nil)

    init() {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        self.wakeUp = (ends[0], ends[1])
    }

    deinit {
        close(self.wakeUp.read)
        close(self.wakeUp.write)
    }

    /// Queues a job; wakes the loop unless the loop itself is queueing it (it drains before it
    /// waits again).
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.jobs.withLock { $0.append(job) }
        let onLoop = self.thread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if !onLoop { self.signal() }
    }

    /// Stops the loop once it has run the jobs queued so far.
    func stop() {
        self.stopped.withLock { $0 = true }
        self.signal()
    }

    private func signal() {
        var one: UInt8 = 1
        _ = write(self.wakeUp.write, &one, 1)  // a full pipe already wakes the loop
    }

    /// Starts the loop on a thread of its own: reads `descriptor`, handing each chunk to `body`
    /// (which may start tasks preferring this executor), runs queued jobs, calls `end` at end of
    /// file, and keeps running jobs until ``stop()``. Closes the descriptor at end of file.
    func start(reading descriptor: Int32, name: String, _ body: @escaping @Sendable ([UInt8]) -> Void, end: @escaping @Sendable () -> Void) {
        let thread = Thread {
            self.thread.withLock { $0 = pthread_self() }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var reading = true
            while true {
                self.drain()
                if self.stopped.withLock({ $0 }) { break }
                var watched = [pollfd(fd: self.wakeUp.read, events: Int16(POLLIN), revents: 0)]
                if reading { watched.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
                let ready = poll(&watched, nfds_t(watched.count), -1)
                if ready < 0 { continue }  // EINTR
                if watched[0].revents != 0 {
                    var bytes = [UInt8](repeating: 0, count: 256)
                    _ = read(self.wakeUp.read, &bytes, bytes.count)
                }
                if reading, watched.count > 1, watched[1].revents != 0 {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count > 0 {
                        body(Array(buffer[0..<count]))
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        reading = false
                        close(descriptor)
                        end()
                    }
                }
            }
            self.drain()
        }
        thread.name = name
        thread.stackSize = 4 << 20
        thread.start()
    }

    /// Runs every queued job, including those the jobs queue, until none is left.
    private func drain() {
        while true {
            let batch = self.jobs.withLock { jobs -> [UnownedJob] in
                defer { jobs.removeAll(keepingCapacity: true) }
                return jobs
            }
            if batch.isEmpty { return }
            for job in batch { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }
}
