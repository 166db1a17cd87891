import Foundation
import Logging
import MLDeploy

/// Runs locally stored services: the execution engine of the in-memory and file-store backends.
///
/// - **Swift handlers** run in-process: inputs are bound to the schema, the handler runs, outputs
///   are checked against the output schema, and only declared artifacts are returned. A handler that
///   throws yields a failed ``ServiceResponse`` (like a Python exception on ML Server); outputs of
///   the wrong type are an ``MLDeployError/Code/outputMismatch`` error.
/// - **Python code** runs in the ``PythonRuntime``'s worker pool; without one, calling a Python
///   service fails with ``MLDeployError/Code/pythonRuntimeUnavailable``.
/// - **Realtime models** (ONNX) are scored natively by the ``RealtimeScorer``: loaded and checked
///   at deploy time, data frame in, data frame out.
public final class LocalRuntime: Sendable {
    /// Where persisted handler names are resolved.
    public let handlers: HandlerRegistry
    /// The Python worker pool, if Python services can run.
    public let python: PythonRuntime?
    /// Scores realtime (ONNX) services.
    public let realtime = RealtimeScorer()
    private let logger: Logger

    /// Creates a runtime resolving persisted handlers in `handlers` and running Python services in
    /// `python`.
    public init(handlers: HandlerRegistry = .shared, python: PythonRuntime? = nil, logger: Logger = Logger(label: "mldeploy.runtime")) {
        self.handlers = handlers
        self.python = python
        self.logger = logger
    }

    /// Starts a Python version's workers ahead of its first call, when the Python runtime is
    /// configured to (``PythonRuntime/Configuration/warmUpOnDeploy``). Other implementations need nothing.
    ///
    /// A realtime model is parsed and checked here, so a model this engine cannot score is refused at
    /// deploy time, naming what it lacks.
    public func prepare(_ service: ServiceInfo, implementation: ServiceImplementation, namespace: [String: ServiceObject]) async throws {
        if case .realtime(let model) = implementation {
            self.realtime.evict(service.reference)
            _ = try self.realtime.model(for: service.reference, bytes: model)
            return
        }
        guard case .python(let code, let initCode, let revision) = implementation, let python = self.python,
            python.configuration.warmUpOnDeploy
        else { return }
        try await python.warmUp(PythonService(info: service, code: code, initCode: initCode, namespace: namespace, revision: revision))
    }

    /// Compiles Python code and init code a deploy or redeploy is about to store (without running
    /// them), so a syntax error is refused before anything is written. Nothing to check without a
    /// Python runtime (such a backend refuses Python services when they are called).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming the code, line and error.
    public func checkCode(_ code: String?, initCode: String?, service: String) async throws {
        guard let python = self.python, code != nil || initCode != nil else { return }
        try await python.checkSyntax(code: code ?? "", initCode: initCode, service: service)
    }

    /// Stops whatever runs a version that was deleted or replaced.
    public func evict(_ reference: ServiceReference) async {
        self.realtime.evict(reference)
        await self.python?.evict(reference)
    }

    /// Stops every worker.
    public func shutdown() async {
        await self.python?.shutdown()
    }

    /// Runs one call.
    ///
    /// - Parameters:
    ///   - service: The service's metadata (schema, artifacts).
    ///   - implementation: What to run.
    ///   - namespace: The service's objects and models.
    ///   - inputs: The call's inputs; they are bound to the input schema here.
    /// - Returns: The response; `success == false` when the service code failed.
    /// - Throws: ``MLDeployError``: bad inputs, outputs of the wrong type, an unresolved handler, or a
    ///   runtime that is not available.
    public func run(
        _ service: ServiceInfo,
        implementation: ServiceImplementation,
        namespace: [String: ServiceObject],
        inputs: [String: MLValue]
    ) async throws -> ServiceResponse {
        let bound = try service.bindInputs(inputs)
        switch implementation {
        case .swiftHandler(let handler):
            return try await self.runHandler(handler, service: service, namespace: namespace, inputs: bound)
        case .swiftHandlerNamed(let name):
            guard let handler = self.handlers.handler(named: name) else {
                throw MLDeployError(
                    code: .unresolvedHandler,
                    message: "Service '\(service.name)' version '\(service.version)' runs the Swift handler '\(name)', which is not registered in this process: only a program that registers that handler (in its HandlerRegistry) before consuming can run this service."
                )
            }
            return try await self.runHandler(handler, service: service, namespace: namespace, inputs: bound)
        case .python(let code, let initCode, let revision):
            guard let python = self.python else {
                throw MLDeployError(
                    code: .pythonRuntimeUnavailable,
                    message: "Service '\(service.name)' version '\(service.version)' is Python code, and this backend was created without a Python runtime."
                )
            }
            return try await python.run(PythonService(info: service, code: code, initCode: initCode, namespace: namespace, revision: revision), inputs: bound)
        case .realtime(let model):
            return try await self.realtime.score(service, bytes: model, inputs: bound)
        }
    }

    private func runHandler(
        _ handler: ServiceHandler,
        service: ServiceInfo,
        namespace: [String: ServiceObject],
        inputs: [String: MLValue]
    ) async throws -> ServiceResponse {
        var call = ServiceCall(service: service, inputs: inputs, objects: namespace)
        do {
            try await handler.run(&call)
        } catch is CancellationError {
            throw MLDeployError(code: .cancelled, message: "The call of service '\(service.name)' was cancelled.")
        } catch {
            let reason = (error as? MLDeployError)?.message ?? String(describing: error)
            self.logger.debug("handler failed", metadata: ["service": "\(service.reference)", "error": "\(reason)"])
            return .failure(
                service: service,
                errorMessage: "Handler '\(handler.name)' failed: \(reason)",
                consoleOutput: call.consoleOutput
            )
        }
        let outputs = try service.checkOutputs(call.outputs)
        let declared = Set(service.artifacts)
        let artifacts = call.artifacts.filter { declared.contains($0.key) }
        return try ServiceResponse(
            service: service,
            outputs: outputs,
            artifacts: artifacts,
            consoleOutput: call.consoleOutput,
            changedFiles: artifacts.keys.sorted()
        )
    }
}
