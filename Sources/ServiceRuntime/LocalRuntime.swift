import Foundation
import Logging
import MLDeploy

/// Runs locally stored services: the execution engine of the in-memory and file-store backends.
///
/// - **Swift handlers** run in-process: inputs are bound to the schema, the handler runs, outputs
///   are checked against the output schema, and only declared artifacts are returned. A handler that
///   throws yields a failed ``ServiceResponse`` (like a Python exception on ML Server); outputs of
///   the wrong type are an ``MLDeployError/Code/outputMismatch`` error.
/// - **Python code** needs the Python worker pool, which this runtime does not have yet: calling a
///   Python service fails with ``MLDeployError/Code/pythonRuntimeUnavailable``.
/// - **Realtime models** need the native scorer, which this runtime does not have yet: calling one
///   fails with ``MLDeployError/Code/unsupported``.
public final class LocalRuntime: Sendable {
    /// Where persisted handler names are resolved.
    public let handlers: HandlerRegistry
    private let logger: Logger

    /// Creates a runtime resolving persisted handlers in `handlers`.
    public init(handlers: HandlerRegistry = .shared, logger: Logger = Logger(label: "mldeploy.runtime")) {
        self.handlers = handlers
        self.logger = logger
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
                    message: "Service '\(service.name)' version '\(service.version)' runs the Swift handler '\(name)', which is not registered in this process. Register it with HandlerRegistry.shared.register(_:) before consuming."
                )
            }
            return try await self.runHandler(handler, service: service, namespace: namespace, inputs: bound)
        case .python:
            throw MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "Service '\(service.name)' version '\(service.version)' is Python code, and the Python runtime is not available to this backend yet. It is stored and will run once the Python worker pool is enabled; Swift handler services run now."
            )
        case .realtime:
            throw MLDeployError(
                code: .unsupported,
                message: "Realtime service '\(service.name)' version '\(service.version)' is stored, but scoring serialized models is not available in this runtime yet."
            )
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
