import Foundation

/// A long-running helper (a server, a peer) that cannot outlive the benchmark and always stops.
///
/// - It is spawned with `posix_spawn` and an **empty signal mask and default dispositions**.
///   Foundation's `Process` on Linux passes on the mask of the thread that starts it, and a Dispatch
///   worker thread blocks signals: a peer started from one (Seldon MLServer, under uvicorn) never
///   saw the SIGTERM meant to stop it, and the driver waited forever.
/// - It runs in a **process group of its own**, under a shell guard that holds this process's end
///   of a pipe: when the pipe closes — ``stop(deadline:)``, normal exit, or the driver killed — the
///   guard sends SIGTERM, waits up to five seconds, then SIGKILLs the whole group (a peer's own
///   worker processes too).
/// - ``stop(deadline:)`` waits at most `deadline`, then SIGKILLs the group itself.
public final class GuardedProcess: @unchecked Sendable {
    /// The guard's process id, which is also the group id.
    public let processID: pid_t
    private var pipeWriter: Int32
    private var stopped = false

    /// Starts `executable arguments…` in `directory`, its standard output and error appended to
    /// `log` (or discarded).
    public init(_ executable: String, _ arguments: [String], directory: String? = nil, log: String? = nil) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw GuardedProcessError("pipe: \(String(cString: strerror(errno)))") }
        let script = """
            exec 3<&0
            \(directory.map { "cd '\($0)' || exit 1" } ?? "")
            "$@" </dev/null &
            child=$!
            cat <&3 >/dev/null
            kill -TERM "$child" 2>/dev/null
            i=0
            while kill -0 "$child" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
            kill -KILL -- -$$ 2>/dev/null
            """
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let output = log ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = ["/bin/sh", "-c", script, "guard", executable] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, &cArguments, environ)
        close(fds[0])
        guard status == 0 else {
            close(fds[1])
            throw GuardedProcessError("posix_spawn /bin/sh: \(String(cString: strerror(status)))")
        }
        // The driver's end must not leak into other children (they would hold the guard open).
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        self.processID = pid
        self.pipeWriter = fds[1]
    }

    /// Stops the helper: the guard sends SIGTERM (SIGKILL after five seconds); after `deadline`
    /// this process SIGKILLs the whole group. Returns once the guard is reaped. Idempotent.
    public func stop(deadline: Duration = .seconds(10)) {
        guard !self.stopped else { return }
        self.stopped = true
        close(self.pipeWriter)
        let until = ContinuousClock.now + deadline
        var status: Int32 = 0
        while ContinuousClock.now < until {
            if waitpid(self.processID, &status, WNOHANG) == self.processID { return }
            usleep(50_000)
        }
        kill(-self.processID, SIGKILL)
        _ = waitpid(self.processID, &status, 0)
    }

    deinit {
        self.stop()
    }
}

/// Why a guarded process could not start.
public struct GuardedProcessError: Error, CustomStringConvertible {
    /// What failed.
    public let description: String
    init(_ description: String) { self.description = description }
}
