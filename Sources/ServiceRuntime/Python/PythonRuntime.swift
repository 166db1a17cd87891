import Foundation
import Metrics
import Logging
import MLDeploy
import Tracing

/// Runs Python services the way ML Server does: in a pool of `python3` worker processes.
///
/// A worker serves one service version: it unpickles the version's objects and models into a
/// namespace and runs its init code **once**; then, per call, it binds the inputs as variables
/// (scalars as Python scalars, `vector` → `numpy.array`, `matrix` → `numpy.matrix`, `data.frame` →
/// `pandas.DataFrame` — numpy and pandas are imported only when a service uses them), runs the code in
/// a fresh temporary working directory, reads the outputs back by name, and returns what the code
/// printed (stdout and stderr, C-level output included) and the declared artifact files it wrote.
///
/// - A Python exception in service code is a *failed* ``MLDeploy/ServiceResponse`` carrying the
///   traceback and the console output — not a thrown error.
/// - A call that exceeds ``Configuration/callTimeout`` kills its worker and fails with
///   ``MLDeploy/MLDeployError/Code/timeout``; a worker that dies (`os._exit`, a segfault, out of memory)
///   fails its call with ``MLDeploy/MLDeployError/Code/workerCrashed`` and the exit reason. Either way the
///   pool replaces the worker; the host process is never affected.
/// - Workers run confined by default (``Configuration/isolation``, ``PythonIsolation``): under
///   bubblewrap as an unprivileged user, seeing only read-only system and Python directories and a
///   bounded scratch directory of their own, with a cleared environment, their own PID namespace and
///   a cgroup bounding their whole process tree. With ``PythonIsolation/none`` they run with this
///   process's user, files and environment.
public final class PythonRuntime: Sendable {
    /// How workers are started, pooled and limited.
    public struct Configuration: Sendable, Hashable {
        /// The interpreter: a name looked up in `PATH`, or a path. Default: `$MLDEPLOY_PYTHON`, else `python3`.
        public var interpreter: String
        /// Workers kept per service version even when idle.
        public var minimumWorkersPerVersion: Int = 0
        /// Workers at most per service version; further calls queue, first come first served.
        public var maximumWorkersPerVersion: Int = 2
        /// Workers at most across all versions. When reached, the least recently used version gives
        /// up an idle worker.
        public var maximumWorkers: Int = 8
        /// How long an idle worker is kept (beyond the minimum).
        public var idleTimeout: Duration = .seconds(300)
        /// The longest a call may run before its worker is killed; `nil` means no limit.
        public var callTimeout: Duration? = .seconds(60)
        /// The address-space limit per worker (`RLIMIT_AS`), in bytes; `nil` means none. Default 4 GiB
        /// (numpy and pandas reserve much more address space than they use).
        public var memoryLimit: Int? = 4 << 30
        /// How long a new worker may take to start and say it is ready.
        public var startupTimeout: Duration = .seconds(30)
        /// How long a call may wait for a busy version's worker before it fails with
        /// `overloaded` (nothing ran); `nil` waits without bound. The call's own timeout starts only
        /// once it has a worker.
        public var maximumQueueWait: Duration? = .seconds(30)
        /// The largest artifact a call may return (bytes); a bigger one fails the call with
        /// `response-too-large` instead of being held in memory and sent. `0`: no limit.
        public var maximumArtifactSize = 32 << 20
        /// How workers are confined (``PythonSandbox``): ``PythonIsolation/sandbox`` by default.
        public var isolation = PythonIsolation.sandbox
        /// The unprivileged user confined workers run as (`runtime.user`).
        public var sandboxUser = "nobody"
        /// The network confined workers have.
        public var network = PythonNetwork.host
        /// The size of a confined worker's working directory and of its `/tmp`, each (bytes).
        public var scratchSize = 256 << 20
        /// The most processes one worker's tree may have (its cgroup's `pids.max`; without a cgroup,
        /// the worker user's process limit).
        public var maximumProcesses = 64
        /// The most files a worker process may have open.
        public var maximumOpenFiles = 1024
        /// The largest file a worker may write (bytes).
        public var maximumFileSize = 256 << 20
        /// Whether deploying a version starts its workers at once (the local backends call
        /// ``PythonRuntime/warmUp(_:)`` when this is set).
        public var warmUpOnDeploy = false
        /// Extra environment variables for workers.
        public var environment: [String: String] = [:]

        /// The defaults, with the interpreter from `MLDEPLOY_PYTHON`.
        public init(interpreter: String? = nil) {
            self.interpreter = interpreter ?? ProcessInfo.processInfo.environment["MLDEPLOY_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
        }
    }

    /// The configuration.
    public let configuration: Configuration
    let pool: PythonPool
    let directory: URL
    private let logger: Logger

    /// Creates a runtime. Workers start on first use (or at ``warmUp(_:)``).
    ///
    /// Creating a runtime ignores `SIGPIPE` in the process: a worker that dies while a frame is
    /// being written to it must fail that exchange (`worker-crashed`), not kill the host with it.
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "mldeploy.python")) {
        _ = PipeWriter.ignoreBrokenPipes
        self.configuration = configuration
        self.logger = logger
        self.directory = Self.scratchRoot().appendingPathComponent("mldeploy-python-\(getpid())-\(UUID().uuidString.prefix(8))")
        self.pool = PythonPool(configuration: configuration, directory: self.directory, logger: logger)
    }

    /// Runs one call of a Python service.
    ///
    /// - Returns: The response; `success == false` when the service code raised.
    /// - Throws: ``MLDeploy/MLDeployError``: ``MLDeploy/MLDeployError/Code/timeout``,
    ///   ``MLDeploy/MLDeployError/Code/workerCrashed``, ``MLDeploy/MLDeployError/Code/outputMismatch``
    ///   (an output the code produced cannot be encoded as its declared type),
    ///   ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` (no interpreter).
    public func run(_ service: PythonService, inputs: [String: MLValue]) async throws -> ServiceResponse {
        // One span per call, from waiting for a worker to its answer: a child of the caller's
        // span (a server request's, a batch record's); its trace context goes to the worker.
        try await withSpan("mldeploy.python.call", ofKind: .internal) { span in
            span.attributes["mldeploy.service"] = service.info.name
            span.attributes["mldeploy.version"] = service.info.version
            return try await self.traced(service, inputs: inputs, span: span)
        }
    }

    private func traced(_ service: PythonService, inputs: [String: MLValue], span: any Span) async throws -> ServiceResponse {
        let bound = try service.info.bindInputs(inputs)
        let lease: PythonPool.Lease
        let queued = ContinuousClock.now
        do {
            lease = try await self.pool.acquire(service)
        } catch let failure as ServiceLoadFailure {
            return .failure(service: service.info, errorMessage: failure.message, consoleOutput: failure.console)
        }
        let acquired = ContinuousClock.now
        let waited = (acquired - queued).components
        span.addEvent(SpanEvent(name: "worker acquired", attributes: ["mldeploy.python.queue_ms": .double(Double(waited.seconds) * 1000 + Double(waited.attoseconds) / 1e15)]))
        Self.recordStage("queue", acquired - queued)
        var healthy = false
        do {
            var inputsJSON = JSONObject()
            for definition in service.info.inputs {
                inputsJSON.append(definition.name, try bound[definition.name, default: .null].json(as: definition.type, parameter: definition.name))
            }
            // The worker empties its working directory before running the code, so every call starts in
            // an empty directory; the host reads the artifacts before the worker takes another call.
            var header: JSONObject = ["op": "call", "inputs": .object(inputsJSON)]
            var propagated = TraceFields()
            InstrumentationSystem.instrument.inject(span.context, into: &propagated, using: TraceFields.Writer())
            for (key, value) in propagated.fields.sorted(by: { $0.key < $1.key }) { header[key] = .string(value) }
            let call = WorkerFrame(header: header)
            // Cancelling the caller (a cancelled batch, a client that went away) kills the worker, so
            // abandoned work does not keep running.
            let worker = lease.worker
            let answer: WorkerFrame
            do {
                answer = try await withTaskCancellationHandler {
                    try await worker.exchange(call, timeout: self.configuration.callTimeout)
                } onCancel: {
                    worker.kill()
                }
            } catch where Task.isCancelled {
                throw MLDeployError(code: .cancelled, message: "The call of service '\(service.info.name)' was cancelled; its worker was stopped.")
            }
            let answered = ContinuousClock.now
            Self.recordStage("worker", answered - acquired)
            healthy = true
            await self.pool.release(lease, healthy: true)
            let response = try Self.response(answer, service: service.info)
            Self.recordStage("decode", ContinuousClock.now - answered)
            return response
        } catch {
            if !healthy { await self.pool.release(lease, healthy: false) }
            throw error
        }
    }

    /// Records one stage of a call in `mldeploy_python_stage_seconds{stage=…}`: `queue` (waiting for
    /// a worker, including its start), `worker` (the round trip to the worker: encoding, running the
    /// code, its answer), `decode` (reading the answer into a response). Where a slow call spent
    /// its time shows in the histograms' tails.
    static func recordStage(_ stage: String, _ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Timer(label: "mldeploy_python_stage_seconds", dimensions: [("stage", stage)]).recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Starts the version's workers now (at least one, or the configured minimum) so its first call
    /// does not pay for starting Python and loading the service.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable``, or
    ///   ``MLDeploy/MLDeployError/Code/serviceLoadFailed`` when its objects or init code fail.
    public func warmUp(_ service: PythonService) async throws {
        try await self.pool.warmUp(service)
    }

    /// Stops the workers of every revision of `reference` (its version was deleted or replaced).
    public func evict(_ reference: ServiceReference) async {
        await self.pool.evict(reference)
    }

    /// Where working directories and console files go: memory-backed `/dev/shm` when it is there and
    /// writable (creating files on a disk file system per call cost more than running the call), else
    /// the temporary directory.
    static func scratchRoot() -> URL {
        let shm = "/dev/shm"
        var info = stat()
        if stat(shm, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, access(shm, W_OK | X_OK) == 0 {
            return URL(fileURLWithPath: shm)
        }
        return FileManager.default.temporaryDirectory
    }

    /// How many workers one version keeps and may have.
    public struct PoolSize: Sendable, Hashable {
        /// Workers kept running even when idle (ML Server's `InitialPoolSize`); started by the next call.
        public var minimum: Int
        /// Workers the version may have at once (`MaxPoolSize`); more calls wait in line.
        public var maximum: Int

        /// A pool size.
        public init(minimum: Int, maximum: Int) {
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    /// The pool size of a version: its own (``setPoolSize(_:for:)``) or the configuration's.
    public func poolSize(for reference: ServiceReference) async -> PoolSize {
        await self.pool.size(of: reference)
    }

    /// Whether a version has a pool size of its own.
    public func hasOwnPoolSize(_ reference: ServiceReference) async -> Bool {
        await self.pool.hasOwnSize(reference)
    }

    /// Gives a version a pool size of its own, overriding ``Configuration/minimumWorkersPerVersion``
    /// and ``Configuration/maximumWorkersPerVersion``; `nil` returns it to the configuration's. The
    /// size lasts while the runtime runs (a redeploy keeps it).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` unless 0 ≤ minimum ≤ maximum,
    ///   1 ≤ maximum ≤ ``Configuration/maximumWorkers``.
    public func setPoolSize(_ size: PoolSize?, for reference: ServiceReference) async throws {
        if let size {
            guard size.minimum >= 0, size.maximum >= 1, size.minimum <= size.maximum, size.maximum <= self.configuration.maximumWorkers else {
                throw MLDeployError.invalidArgument(
                    "A pool size needs 0 ≤ initial (\(size.minimum)) ≤ maximum (\(size.maximum)) and 1 ≤ maximum ≤ \(self.configuration.maximumWorkers), the runtime's total."
                )
            }
        }
        await self.pool.setSize(size, of: reference)
    }

    /// The pool's current workers, per service version.
    public func status() async -> Status {
        await self.pool.status()
    }

    /// Stops every worker and removes the runtime's temporary directory. Calls in flight fail.
    public func shutdown() async {
        await self.pool.shutdown()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// The pool's workers.
    public struct Status: Sendable, Hashable {
        /// One service version's workers.
        public struct Version: Sendable, Hashable {
            /// The version.
            public var service: ServiceReference
            /// Workers waiting for calls.
            public var idle: Int
            /// Workers running calls.
            public var busy: Int
            /// Workers starting.
            public var starting: Int
            /// Calls waiting for a worker.
            public var queued: Int
        }

        /// Per version.
        public var versions: [Version]
        /// The interpreter.
        public var interpreter: String
        /// The global worker limit.
        public var maximumWorkers: Int
        /// One-shot workers running session code now (they count against ``maximumWorkers``).
        public var sessionRuns = 0
        /// Session runs waiting for a place under ``maximumWorkers``.
        public var sessionRunsQueued = 0
        /// Workers now, all versions and session runs together.
        public var workers: Int { self.versions.reduce(0) { $0 + $1.idle + $1.busy + $1.starting } + self.sessionRuns }
    }

    // MARK: Decoding a worker's answer

    static func response(_ answer: WorkerFrame, service: ServiceInfo) throws -> ServiceResponse {
        let header = answer.header
        let console = header["console"]?.stringValue ?? ""
        guard header["ok"]?.boolValue == true else {
            let error = header["error"]?.stringValue ?? "The service failed without a message."
            if header["kind"]?.stringValue == "output" {
                throw MLDeployError(code: .outputMismatch, message: "Service '\(service.name)' version '\(service.version)': \(error)")
            }
            if header["kind"]?.stringValue == "artifact" {
                // Over `runtime.artifact_limit_mb`: never held in memory or sent (a server answers 413).
                throw MLDeployError(
                    code: .responseTooLarge,
                    message: "Service '\(service.name)' version '\(service.version)': \(error) (runtime.artifact_limit_mb); nothing was returned."
                )
            }
            return .failure(service: service, errorMessage: error, consoleOutput: console)
        }
        var outputs: [String: MLValue] = [:]
        let raw = header["outputs"]?.objectValue ?? [:]
        for definition in service.outputs {
            do {
                outputs[definition.name] = try MLValue(json: raw[definition.name] ?? .null, as: definition.type, parameter: definition.name, direction: .output)
            } catch var error as MLDeployError {
                error.message = "Service '\(service.name)' version '\(service.version)': " + error.message
                throw error
            }
        }
        var artifacts: [String: Data] = [:]
        for entry in header["artifacts"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, service.artifacts.contains(name), let index = entry["blob"]?.intValue, answer.blobs.indices.contains(index) else { continue }
            artifacts[name] = Data(answer.blobs[index])
        }
        return try ServiceResponse(
            service: service,
            outputs: try service.checkOutputs(outputs),
            artifacts: artifacts,
            consoleOutput: console,
            changedFiles: artifacts.keys.sorted()
        )
    }
}

/// A Python service version as a worker loads it.
public struct PythonService: Sendable {
    /// The service's metadata: name, version, schema, artifacts.
    public var info: ServiceInfo
    /// The code run per call.
    public var code: String
    /// The code run once per worker, if any.
    public var initCode: String?
    /// Objects and models, by name.
    public var namespace: [String: ServiceObject]
    /// Identifies this revision of the version: workers loaded from another revision (before a
    /// redeploy) are never reused for it.
    public var revision: String

    /// Creates a service description.
    public init(info: ServiceInfo, code: String, initCode: String?, namespace: [String: ServiceObject], revision: String) {
        self.info = info
        self.code = code
        self.initCode = initCode
        self.namespace = namespace
        self.revision = revision
    }

    /// The `load` frame: code, schema, values as JSON, pickles as blobs, and the worker's own working
    /// directory and console file.
    func loadFrame(workdir: URL, capture: URL, artifactLimit: Int) throws -> WorkerFrame {
        var objects: [JSONValue] = []
        var blobs: [[UInt8]] = []
        for (name, object) in self.namespace.sorted(by: { $0.key < $1.key }) {
            switch object {
            case .pickled(let data):
                objects.append(["name": .string(name), "kind": "pickle", "blob": .integer(blobs.count)])
                blobs.append(Array(data))
            case .value(let value):
                let type = value.naturalType.map { JSONValue.string($0.rawValue) } ?? .null
                objects.append(["name": .string(name), "kind": "value", "type": type, "value": try value.jsonValue()])
            }
        }
        func schema(_ parameters: [ParameterDefinition]) -> JSONValue {
            .array(parameters.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })
        }
        return WorkerFrame(
            header: [
                "op": "load",
                "service": .string("\(self.info.name)/\(self.info.version)"),
                "code": .string(self.code),
                "init_code": self.initCode.map(JSONValue.string) ?? .null,
                "inputs": schema(self.info.inputs),
                "outputs": schema(self.info.outputs),
                "objects": .array(objects),
                "workdir": .string(workdir.path),
                "capture": .string(capture.path),
                "artifacts": .array(self.info.artifacts.map(JSONValue.string)),
                "artifact_limit": .integer(artifactLimit),
            ],
            blobs: blobs
        )
    }
}

/// A version's objects or init code failed to load; calls get a failed response with the traceback.
struct ServiceLoadFailure: Error {
    let message: String
    let console: String
}

/// Trace fields (`traceparent`, `tracestate`) an instrument propagates, collected for a worker call.
struct TraceFields {
    var fields: [String: String] = [:]

    /// Writes one field.
    struct Writer: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceFields) {
            carrier.fields[key] = value
        }
    }
}
