import MLDeploy

extension PythonRuntime.Configuration {
    /// The option keys ``init(options:)`` reads.
    public static let optionKeys = [
        "python.interpreter", "python.minWorkers", "python.maxWorkers", "python.maxTotalWorkers",
        "python.idleTimeoutSeconds", "python.callTimeoutSeconds", "python.memoryLimitMB", "python.warmUp", "python.queueWaitSeconds", "python.artifactLimitMB",
        "python.isolation", "python.user", "python.network", "python.scratchMB", "python.maxProcesses",
    ]

    /// Reads a configuration from backend options (`BackendConfiguration.options`), starting from the
    /// defaults. Keys: `python.interpreter`, `python.minWorkers`, `python.maxWorkers`,
    /// `python.maxTotalWorkers`, `python.idleTimeoutSeconds`, `python.callTimeoutSeconds` (`0` = no
    /// limit), `python.memoryLimitMB` (`0` = no limit), `python.warmUp` (`true`/`false`),
    /// `python.queueWaitSeconds` (how long a call waits for a busy version's worker; `0` = no limit),
    /// `python.artifactLimitMB` (the largest artifact a call returns; `0` = no limit),
    /// `python.isolation` (`sandbox`/`none`), `python.user` (the user confined workers run as),
    /// `python.network` (`host`/`none`), `python.scratchMB` (a confined worker's working directory
    /// and `/tmp`, each), `python.maxProcesses` (processes per worker tree).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming the key and the expected form.
    public init(options: [String: String]) throws {
        self.init(interpreter: options["python.interpreter"])
        func integer(_ key: String, minimum: Int) throws -> Int? {
            guard let text = options[key] else { return nil }
            guard let value = Int(text), value >= minimum else {
                throw MLDeployError.invalidArgument("Option \(key) must be a whole number ≥ \(minimum), not '\(text)'.")
            }
            return value
        }
        if let value = try integer("python.minWorkers", minimum: 0) { self.minimumWorkersPerVersion = value }
        if let value = try integer("python.maxWorkers", minimum: 1) { self.maximumWorkersPerVersion = value }
        if let value = try integer("python.maxTotalWorkers", minimum: 1) { self.maximumWorkers = value }
        if let value = try integer("python.idleTimeoutSeconds", minimum: 1) { self.idleTimeout = .seconds(value) }
        if let value = try integer("python.callTimeoutSeconds", minimum: 0) { self.callTimeout = value == 0 ? nil : .seconds(value) }
        if let value = try integer("python.memoryLimitMB", minimum: 0) { self.memoryLimit = value == 0 ? nil : value << 20 }
        if let value = try integer("python.queueWaitSeconds", minimum: 0) { self.maximumQueueWait = value == 0 ? nil : .seconds(value) }
        if let value = try integer("python.artifactLimitMB", minimum: 0) { self.maximumArtifactSize = value << 20 }
        if let value = try integer("python.scratchMB", minimum: 1) { self.scratchSize = value << 20 }
        if let value = try integer("python.maxProcesses", minimum: 1) { self.maximumProcesses = value }
        if let text = options["python.isolation"] {
            guard let value = PythonIsolation(spelling: text) else {
                throw MLDeployError.invalidArgument("Option python.isolation must be sandbox or none, not '\(text)'.")
            }
            self.isolation = value
        }
        if let text = options["python.network"] {
            guard let value = PythonNetwork(spelling: text) else {
                throw MLDeployError.invalidArgument("Option python.network must be host or none, not '\(text)'.")
            }
            self.network = value
        }
        if let text = options["python.user"] {
            guard !text.isEmpty else { throw MLDeployError.invalidArgument("Option python.user must name a user.") }
            self.sandboxUser = text
        }
        if let text = options["python.warmUp"] {
            guard let value = Bool(text) else {
                throw MLDeployError.invalidArgument("Option python.warmUp must be true or false, not '\(text)'.")
            }
            self.warmUpOnDeploy = value
        }
        if self.minimumWorkersPerVersion > self.maximumWorkersPerVersion {
            throw MLDeployError.invalidArgument("Option python.minWorkers (\(self.minimumWorkersPerVersion)) exceeds python.maxWorkers (\(self.maximumWorkersPerVersion)).")
        }
    }
}
