import Foundation
import MLDeploy

/// What runs when a locally stored service version is called.
public enum ServiceImplementation: Sendable {
    /// Python code, run by the Python runtime. `revision` changes whenever the version's code or
    /// objects change, so workers loaded from an older revision are never reused.
    case python(code: String, initCode: String?, revision: String)
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
            self = .python(code: code, initCode: definition.initCode, revision: UUID().uuidString)
        } else {
            return nil
        }
    }

    /// The same implementation under a new revision (after its objects or models changed).
    public func revised() -> ServiceImplementation {
        if case .python(let code, let initCode, _) = self {
            return .python(code: code, initCode: initCode, revision: UUID().uuidString)
        }
        return self
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
