import NIOCore
import NIOPosix
import Synchronization

extension MLDeployServer {
    /// Whether this process's Swift tasks run on the server's own event loop threads (see
    /// ``runTasksOnEventLoops()``).
    public static var tasksRunOnEventLoops: Bool {
        eventLoopExecutor.withLock { $0 == .installed }
    }

    /// Makes NIO's event loop threads, which accept and read the server's connections, the threads
    /// that every Swift task of this process runs on, in place of Swift's own global pool.
    ///
    /// Why: by default a request crosses threads twice — the event loop that read it wakes a pool
    /// thread to run the handler, and the pool thread hands the answer back to the event loop to
    /// write. On a machine with few cores each wake-up can wait for a core behind other runnable
    /// threads, and those waits are what a latency tail is made of. With this, a task enqueued from
    /// an event loop stays on that loop, so a request is read, handled and answered on one thread.
    ///
    /// What it costs: it is process-wide and cannot be undone, so an embedding host decides, not a
    /// library (`mldeploy serve` turns it on with `server.executor: event_loops`). Code that blocks a
    /// task's thread — a synchronous wait, long CPU-bound work without a hop off the pool — now
    /// blocks a loop's other connections too. MLDeploy's own blocking work (Python workers' pipes,
    /// large realtime frames, libcurl) already runs on threads of its own.
    ///
    /// Call it once, early, before the server starts; later calls return the first call's answer.
    /// Returns whether the event loops now run the tasks (false where NIO cannot install its hook
    /// on this toolchain, or another component installed a global executor first).
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool {
        eventLoopExecutor.withLock { state in
            if state == .notTried {
                state = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() ? .installed : .refused
            }
            return state == .installed
        }
    }
}

/// NIO allows one attempt per process to install its hook, so its outcome is remembered.
private enum EventLoopExecutorState { case notTried, installed, refused }
private let eventLoopExecutor = Mutex(EventLoopExecutorState.notTried)
