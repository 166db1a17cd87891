import MLDeploy

extension PythonRuntime {
    /// How this runtime's workers are confined on this host, as a server reports it (`GET /status`,
    /// `mldeploy doctor`) and checks it before it starts serving.
    public struct Confinement: Sendable, Hashable, CustomStringConvertible {
        /// Where the limits on a worker's whole process tree come from.
        public enum TreeLimits: String, Sendable, Hashable {
            /// A cgroup per worker: memory and process count hold for the worker and every child.
            case cgroup
            /// Per-process limits only (address space per process; processes per worker user): the
            /// host does not let this process make cgroups.
            case perProcess = "per-process"
            /// Unconfined workers: per-process limits of the server's own user.
            case none
        }

        /// ``PythonIsolation/sandbox`` or ``PythonIsolation/none``.
        public var isolation: PythonIsolation
        /// The user confined workers run as; `nil` when unconfined.
        public var user: String?
        /// The network confined workers have; `nil` when unconfined (the server's).
        public var network: PythonNetwork?
        /// Where whole-tree limits come from.
        public var treeLimits: TreeLimits

        /// One line for logs and `mldeploy doctor`.
        public var description: String {
            guard self.isolation == .sandbox, let user, let network else {
                return "none: workers run as this server's user, with its files, environment and network"
            }
            return "sandbox (bubblewrap): user \(user), network \(network), \(self.treeLimits == .cgroup ? "a cgroup per worker" : "per-process limits (no cgroup)")"
        }
    }

    /// Checks that workers can be confined as configured — finding bubblewrap, the worker user and
    /// the interpreter's directories, and running a confined interpreter once — and says how.
    /// Cheap after the first call (the prepared sandbox is kept).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` saying what is missing
    ///   and how to proceed, when ``Configuration/isolation`` is ``PythonIsolation/sandbox`` and the
    ///   host cannot confine.
    public func checkConfinement() async throws -> Confinement {
        guard self.configuration.isolation == .sandbox else {
            return Confinement(isolation: .none, user: nil, network: nil, treeLimits: .none)
        }
        let sandbox = try await self.pool.preparedSandbox()
        return Confinement(
            isolation: .sandbox, user: sandbox.user, network: sandbox.network, treeLimits: sandbox.cgroupParents == nil ? .perProcess : .cgroup
        )
    }
}
