import Foundation
import MLDeploy

/// What runs when a locally stored service version is called.
public enum ServiceImplementation: Sendable {
    /// Python code, run by the Python runtime.
    case python(code: String, initCode: String?)
    /// A Swift handler carried in-process.
    case swiftHandler(ServiceHandler)
    /// A Swift handler persisted by name, resolved in the ``HandlerRegistry`` at call time.
    case swiftHandlerNamed(String)
    /// A serialized model scored natively.
    case realtime(model: Data)

    /// The implementation a standard definition describes, if it describes one.
    public init?(_ definition: ServiceDefinition) {
        if let handler = definition.handler {
            self = .swiftHandler(handler)
        } else if let code = definition.code {
            self = .python(code: code, initCode: definition.initCode)
        } else {
            return nil
        }
    }

    /// The runtime type services with this implementation report.
    public var runtime: RuntimeType {
        switch self {
        case .python: return .python
        case .swiftHandler, .swiftHandlerNamed: return .swift
        case .realtime: return .realtime
        }
    }
}
