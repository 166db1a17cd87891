import Foundation

/// Starting processes with `posix_spawn` directly, for the helpers tests run by the hundred.
///
/// Why not Foundation's `Process`: on Linux its `run()` walks this process's open descriptors
/// while other threads open and close their own; under a full parallel test run (over a thousand
/// descriptors, servers and pools churning) it crashed copying that list (a bad pointer in
/// `memcpy`). `posix_spawn` with close-on-exec descriptors (the runtime's pipes are) needs no walk.
public enum Spawn {
    /// A process that could not be started.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public let description: String
    }

    /// A pipe whose ends are close-on-exec (the child gets only what it is given).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// Spawns `executable arguments…` (a path) in `directory` with `environment` (this process's
    /// when `nil`), its standard input, output and error on the given descriptors.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String]?, directory: String?,
        input: Int32, output: Int32, error: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, error, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // An empty signal mask: Dispatch's threads block signals, and a child must see SIGTERM.
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        // The working directory through a shell, so no platform-specific spawn action is needed.
        let argv = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0, executable] + arguments } ?? [executable] + arguments
        let path = argv[0]
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        let environmentStrings = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = (environmentStrings ?? []).map { strdup($0) } + [nil]
        defer { cEnvironment.forEach { free($0) } }
        var pid: pid_t = 0
        let status = environmentStrings == nil
            ? posix_spawn(&pid, path, &actions, &attributes, &cArguments, environ)
            : posix_spawn(&pid, path, &actions, &attributes, &cArguments, &cEnvironment)
        guard status == 0 else { throw Failure(description: "could not start \(executable): \(String(cString: strerror(status)))") }
        return pid
    }

    /// Reads `descriptor` to its end, then closes it.
    public static func readAll(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(descriptor)
        return data
    }

    /// Waits for `pid` and returns its exit status (128 + N when killed by signal N).
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
