import MLDeploy
import MLDeployONNX

/// A backend that runs services in this process through a ``LocalRuntime`` — the in-memory and
/// filesystem backends — and lets its host see it: a server reports the Python pool on its status
/// page and maps ML Server's service pools to ``PythonRuntime/setPoolSize(_:for:)``.
public protocol LocalRuntimeHosting: Sendable {
    /// The runtime the backend runs services with.
    var localRuntime: LocalRuntime { get }

    /// A realtime version's parsed model (see the extension's default).
    func realtimeModel(_ service: ServiceReference) async throws -> ONNXModel
}

extension LocalRuntimeHosting {
    /// A realtime version's model, parsed (and kept by the runtime's scorer): what describes its
    /// tensors to protocols that ask (the Open Inference Protocol's model metadata). Backends that
    /// store realtime models implement it; the default says there is none.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` when the backend keeps no models, or
    ///   the version is not a realtime one; ``MLDeploy/MLDeployError/Code/notFound`` for no such
    ///   version.
    public func realtimeModel(_ service: ServiceReference) async throws -> ONNXModel {
        throw MLDeployError(code: .unsupported, message: "This backend does not give access to realtime models.")
    }

    /// The parsed model of `implementation`, or an error when it is not a realtime model.
    package func parsedRealtimeModel(_ service: ServiceReference, _ implementation: ServiceImplementation) throws -> ONNXModel {
        guard case .realtime(let model) = implementation else {
            throw MLDeployError(code: .unsupported, message: "\(service.name)/\(service.version) is not a realtime service: it has no model.")
        }
        return try self.localRuntime.realtime.model(for: service, bytes: model)
    }
}
