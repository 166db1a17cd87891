import Foundation
import MLDeploy
import Subprocess
import SystemPackage
import Synchronization

/// How a Python worker — which runs code any Contributor published — is confined.
///
/// Every worker runs under bubblewrap (`bwrap`, Debian's `bubblewrap`) in namespaces of its own:
///
/// - **Mounts**: only the system's read-only directories (`/usr`, `/lib`, `/bin`, a few files of
///   `/etc`), the interpreter's own directories (its prefix and `sys.path`), read-only, and the
///   worker script. The working directory (`/work`) and `/tmp` are size-bounded tmpfs of the
///   worker's own. The server's data directory, its users, keys, tokens and stores are not there.
/// - **Identity**: the process drops to an unprivileged user (`runtime.user`, `nobody` by
///   default) before Python starts — never the server's — and can gain no privileges.
/// - **PID, IPC and UTS namespaces**: it sees and signals only its own processes; when the worker
///   exits or is killed, every process it started dies with it (they live in its PID namespace).
/// - **Environment**: `PATH`, `HOME`, `LANG`, `TMPDIR` and what Python needs — never the server's
///   variables (`MLDEPLOY_ADMIN_PASSWORD`, credentials).
/// - **Network**: the host's (`runtime.network: host`, as ML Server) or none but a private
///   loopback (`none`).
/// - **Limits** for the whole process tree: memory and process count in a cgroup of the worker's
///   own where the host lets the server make one, else per-process limits (address space, processes
///   of the user); open files and file size always.
///
/// With `runtime.isolation: none` workers run as before: the server's user and environment.
public struct PythonIsolation: Sendable, Hashable, CustomStringConvertible {
    let rawValue: String

    /// Workers run confined (the default).
    public static let sandbox = PythonIsolation(rawValue: "sandbox")
    /// Workers run as the server's user, with its environment and files (development only).
    public static let none = PythonIsolation(rawValue: "none")

    private init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `sandbox` or `none`.
    public init?(spelling: String) {
        switch spelling.lowercased() {
        case "sandbox": self = .sandbox
        case "none": self = .none
        default: return nil
        }
    }

    /// `sandbox` or `none`.
    public var description: String { self.rawValue }
}

/// The network a confined worker has.
public struct PythonNetwork: Sendable, Hashable, CustomStringConvertible {
    let rawValue: String

    /// The host's network (ML Server's behaviour: services may call out).
    public static let host = PythonNetwork(rawValue: "host")
    /// No network but a private loopback of the worker's own.
    public static let none = PythonNetwork(rawValue: "none")

    private init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `host` or `none`.
    public init?(spelling: String) {
        switch spelling.lowercased() {
        case "host": self = .host
        case "none": self = .none
        default: return nil
        }
    }

    /// `host` or `none`.
    public var description: String { self.rawValue }
}

/// A prepared sandbox: the tools found, the user resolved, the interpreter's directories, and
/// whether per-worker cgroups can be made. Built once per runtime (``prepare(_:)``).
struct PythonSandbox: Sendable {
    let bwrap: String
    let setpriv: String
    let uid: UInt32
    let gid: UInt32
    let user: String
    /// The interpreter's real executable (not a shim on `PATH`).
    let interpreter: String
    /// The interpreter's directories, bound read-only at their own paths.
    let pythonDirectories: [String]
    let network: PythonNetwork
    let scratchSize: Int
    /// The cgroup v1 directories new worker groups are made in (memory, pids), if writable.
    let cgroupParents: (memory: String, pids: String)?

    /// Where the worker script is mounted inside a sandbox.
    static let scriptPath = "/mldeploy/worker.py"
    /// The worker's working directory inside a sandbox.
    static let workdir = "/work"
    /// The console capture file inside a sandbox.
    static let capture = "/tmp/.mldeploy-console"

    /// Finds bubblewrap and setpriv, resolves the user and the interpreter's directories, and runs
    /// a confined `true` to prove the host allows it.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` saying what is missing and
    ///   how to proceed (install bubblewrap, or choose `runtime.isolation: none` knowingly).
    static func prepare(_ configuration: PythonRuntime.Configuration) async throws -> PythonSandbox {
        // Runtimes of one process with the same settings share a proven sandbox (a process serving
        // several backends, a test run) instead of probing the interpreter again.
        let key = [configuration.interpreter, configuration.sandboxUser, configuration.network.description, String(configuration.scratchSize), configuration.environment["PYTHONPATH"] ?? ""]
        if let proven = Self.proven.withLock({ $0[key] }) { return proven }
        let sandbox = try await Self.probe(configuration)
        Self.proven.withLock { $0[key] = sandbox }
        return sandbox
    }

    /// Sandboxes proven in this process, by the settings they were made from.
    private static let proven = Mutex<[[String]: PythonSandbox]>([:])

    private static func probe(_ configuration: PythonRuntime.Configuration) async throws -> PythonSandbox {
        func unavailable(_ why: String) -> MLDeployError {
            MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "Python workers cannot be confined: \(why). Install bubblewrap (Debian: apt-get install bubblewrap), or run them unconfined with runtime.isolation: none (MLDEPLOY_RUNTIME_ISOLATION=none) — they then run as this process's user, with its files and environment."
            )
        }
        #if !os(Linux)
        throw unavailable("workers can be confined only on Linux (bubblewrap needs Linux namespaces)")
        #endif
        guard let bwrap = Self.find("bwrap") else { throw unavailable("bwrap is not installed") }
        guard let setpriv = Self.find("setpriv") else { throw unavailable("setpriv (util-linux) is not installed") }
        guard let entry = getpwnam(configuration.sandboxUser) else { throw unavailable("there is no user '\(configuration.sandboxUser)' (runtime.user)") }
        let (uid, gid) = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        guard uid != 0 else { throw unavailable("runtime.user '\(configuration.sandboxUser)' is root") }

        // The interpreter's real path and directories: a PATH shim (pyenv) would not run inside.
        let probe = "import json, sys\nprint(json.dumps([sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix] + sys.path))"
        let interpreterExecutable: Executable =
            configuration.interpreter.contains("/") ? .path(FilePath(configuration.interpreter)) : .name(configuration.interpreter)
        func noInterpreter(_ why: String) -> MLDeployError {
            MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "The Python interpreter '\(configuration.interpreter)' \(why). Set MLDEPLOY_PYTHON (runtime.python) to a Python 3 interpreter."
            )
        }
        let found: String
        do {
            let result = try await Subprocess.run(interpreterExecutable, arguments: ["-c", probe], output: .string(limit: 1 << 16), error: .discarded)
            guard case .exited(0) = result.terminationStatus else { throw noInterpreter("did not run") }
            let printed: String? = result.standardOutput
            found = printed ?? ""
        } catch let error as MLDeployError {
            throw error
        } catch {
            throw noInterpreter("could not be started (\(error))")
        }
        guard let paths = (try? JSONValue(parsing: Data(found.utf8)))?.arrayValue?.compactMap(\.stringValue), let executable = paths.first, !executable.isEmpty else {
            throw noInterpreter("did not say where it is")
        }
        // Directories the operator put on PYTHONPATH (runtime environment) are the interpreter's too.
        let extra = (configuration.environment["PYTHONPATH"] ?? "").split(separator: ":").map(String.init)
        let system = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin"]
        var directories: [String] = []
        for path in paths.dropFirst() + extra where path.hasPrefix("/") {
            // A zip or a directory that does not exist is bound by its nearest existing ancestor below
            // the system directories; each root only once.
            var candidate = path
            while !FileManager.default.fileExists(atPath: candidate), candidate != "/" { candidate = (candidate as NSString).deletingLastPathComponent }
            guard candidate != "/", !system.contains(where: { candidate == $0 || candidate.hasPrefix($0 + "/") }) else { continue }
            if directories.contains(where: { candidate == $0 || candidate.hasPrefix($0 + "/") }) { continue }
            directories.removeAll { $0.hasPrefix(candidate + "/") }
            directories.append(candidate)
        }
        let executableDirectory = ((executable as NSString).resolvingSymlinksInPath as NSString).deletingLastPathComponent
        if !system.contains(where: { executableDirectory.hasPrefix($0 + "/") }), !directories.contains(where: { executableDirectory.hasPrefix($0 + "/") || executableDirectory == $0 }) {
            directories.append(executableDirectory)
        }

        let sandbox = PythonSandbox(
            bwrap: bwrap, setpriv: setpriv, uid: uid, gid: gid, user: configuration.sandboxUser, interpreter: executable,
            pythonDirectories: directories.sorted(), network: configuration.network, scratchSize: configuration.scratchSize,
            cgroupParents: Self.cgroupParents()
        )
        // Prove it: a confined interpreter that prints its user id.
        let check = sandbox.command(script: nil, interpreterArguments: ["-c", "import os; print(os.getuid())"], cgroup: nil)
        let result = try await Subprocess.run(
            .path(FilePath(check.executable)), arguments: Arguments(check.arguments), environment: .custom(check.environment),
            output: .string(limit: 4096), error: .string(limit: 8192)
        )
        let (printed, complaint): (String?, String?) = (result.standardOutput, result.standardError)
        guard case .exited(0) = result.terminationStatus, printed?.trimmingCharacters(in: .whitespacesAndNewlines) == String(uid) else {
            throw unavailable("a confined test run failed: \((complaint ?? "").trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return sandbox
    }

    /// The command that runs `interpreter interpreterArguments…` confined, with `script` (a host
    /// file) at ``scriptPath``; in `cgroup` (directories to join first) when given.
    func command(script: String?, interpreterArguments: [String], cgroup: WorkerCgroup?, extraEnvironment: [String: String] = [:]) -> (executable: String, arguments: [String], environment: [Environment.Key: String]) {
        // As root, bubblewrap sets the sandbox up and setpriv drops to the worker's user; a server
        // that is not root gets the user namespace (its own uid mapped to the worker's).
        let asRoot = getuid() == 0
        var arguments = [
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "mldeploy-worker",
        ]
        if !asRoot { arguments += ["--unshare-user", "--uid", String(self.uid), "--gid", String(self.gid)] }
        if self.network == .none { arguments.append("--unshare-net") }
        for directory in ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin"] { arguments += ["--ro-bind-try", directory, directory] }
        for file in ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/timezone", "/etc/ssl", "/etc/ca-certificates", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/mime.types"] {
            arguments += ["--ro-bind-try", file, file]
        }
        // Scratch space first: interpreter directories under /tmp (a virtualenv there) are bound over it.
        arguments += [
            "--proc", "/proc", "--dev", "/dev",
            "--size", String(self.scratchSize), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", String(self.scratchSize), "--perms", "1777", "--tmpfs", Self.workdir,
        ]
        for directory in self.pythonDirectories {
            // Parents get traversable mount points even where the host's are private (/root).
            var parents: [String] = []
            var parent = (directory as NSString).deletingLastPathComponent
            while parent != "/", !parent.isEmpty {
                parents.insert(parent, at: 0)
                parent = (parent as NSString).deletingLastPathComponent
            }
            for path in parents { arguments += ["--perms", "0755", "--dir", path] }
            arguments += ["--ro-bind", directory, directory]
        }
        if let script { arguments += ["--perms", "0755", "--dir", "/mldeploy", "--ro-bind", script, Self.scriptPath] }
        arguments += ["--chdir", Self.workdir, "--clearenv"]
        for (key, value) in Self.environment(uidHome: Self.workdir) { arguments += ["--setenv", key, value] }
        for (key, value) in extraEnvironment.sorted(by: { $0.key < $1.key }) { arguments += ["--setenv", key, value] }
        if asRoot {
            arguments += [self.setpriv, "--reuid=\(self.uid)", "--regid=\(self.gid)", "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        }
        arguments += [self.interpreter] + interpreterArguments
        let environment: [Environment.Key: String] = ["PATH": "/usr/bin:/bin"]
        guard let cgroup else { return (self.bwrap, arguments, environment) }
        // Join the worker's cgroups before bubblewrap starts, so every process it makes is counted.
        let join = #"echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@""#
        return ("/bin/sh", ["-c", join, "sh", cgroup.memory, cgroup.pids, self.bwrap] + arguments, environment)
    }

    /// The variables a confined worker gets: what Python and the libraries need, nothing of the server's.
    static func environment(uidHome: String) -> [(String, String)] {
        [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"), ("HOME", uidHome), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8"), ("LC_ALL", "C.UTF-8"),
            ("PYTHONUNBUFFERED", "1"), ("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONHASHSEED", "0"), ("PYTHONNOUSERSITE", "1"),
            ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("MPLCONFIGDIR", "/tmp"),
        ]
    }

    /// The cgroup v1 memory and pids directories of this process, when it may make groups in them.
    static func cgroupParents() -> (memory: String, pids: String)? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        var memory: String?, pids: String?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[1].split(separator: ",").contains("memory") { memory = "/sys/fs/cgroup/memory" + fields[2] }
            if fields[1].split(separator: ",").contains("pids") { pids = "/sys/fs/cgroup/pids" + fields[2] }
        }
        guard let memory, let pids, access(memory, W_OK) == 0, access(pids, W_OK) == 0,
            FileManager.default.fileExists(atPath: memory + "/memory.limit_in_bytes"), FileManager.default.fileExists(atPath: pids + "/cgroup.procs")
        else { return nil }
        return (memory, pids)
    }

    /// Makes the cgroups of one worker (memory limit, process limit); `nil` when the host does
    /// not let this process make them (the per-process limits still hold).
    func makeCgroup(name: String, memoryLimit: Int?, maximumProcesses: Int) -> WorkerCgroup? {
        guard let parents = self.cgroupParents else { return nil }
        let group = WorkerCgroup(memory: parents.memory + "/" + name, pids: parents.pids + "/" + name)
        do {
            try FileManager.default.createDirectory(atPath: group.memory, withIntermediateDirectories: false)
            try FileManager.default.createDirectory(atPath: group.pids, withIntermediateDirectories: false)
            if let memoryLimit {
                try String(memoryLimit).write(toFile: group.memory + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)
                // Swap counts too, where the kernel accounts it.
                try? String(memoryLimit).write(toFile: group.memory + "/memory.memsw.limit_in_bytes", atomically: false, encoding: .utf8)
            }
            try String(maximumProcesses).write(toFile: group.pids + "/pids.max", atomically: false, encoding: .utf8)
            return group
        } catch {
            Task { await Self.removeCgroup(group) }
            return nil
        }
    }

    /// Removes a worker's cgroups once its processes are gone, killing any that are left. A group
    /// stays busy until the kernel has reaped its last process, so removal is retried for a while
    /// (sleeping, not blocking a thread).
    static func removeCgroup(_ group: WorkerCgroup) async {
        for directory in [group.pids, group.memory] {
            for _ in 0..<100 {
                if let procs = try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8) {
                    for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) { Foundation.kill(pid, SIGKILL) }
                }
                guard rmdir(directory) != 0, errno == EBUSY else { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    private static func find(_ tool: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] where access(directory + "/" + tool, X_OK) == 0 {
            return directory + "/" + tool
        }
        return nil
    }
}
