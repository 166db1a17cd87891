/// A backend that runs services in this process through a ``LocalRuntime`` — the in-memory and
/// filesystem backends — and lets its host see it: a server reports the Python pool on its status
/// page and maps ML Server's service pools to ``PythonRuntime/setPoolSize(_:for:)``.
public protocol LocalRuntimeHosting: Sendable {
    /// The runtime the backend runs services with.
    var localRuntime: LocalRuntime { get }
}
