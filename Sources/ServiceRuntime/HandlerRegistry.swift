import MLDeploy
import Synchronization

/// Swift handlers by name, so that a service persisted by handler name (the file store) can find its
/// code again in the process that loads it.
///
/// ```swift
/// HandlerRegistry.shared.register(ServiceHandler("manualTransmission") { call in … })
/// ```
///
/// In-memory services carry their handler with them and do not need the registry; services loaded
/// from disk resolve theirs here when called, and fail with
/// ``MLDeploy/MLDeployError/Code/unresolvedHandler`` if it is missing.
public final class HandlerRegistry: Sendable {
    /// The process-wide registry.
    public static let shared = HandlerRegistry()

    private let handlers = Mutex<[String: ServiceHandler]>([:])

    /// An empty registry.
    public init() {}

    /// Registers `handler` under its name, replacing any handler of the same name.
    public func register(_ handler: ServiceHandler) {
        self.handlers.withLock { $0[handler.name] = handler }
    }

    /// Removes the handler named `name`; returns whether there was one.
    @discardableResult
    public func unregister(_ name: String) -> Bool {
        self.handlers.withLock { $0.removeValue(forKey: name) != nil }
    }

    /// The handler named `name`, if registered.
    public func handler(named name: String) -> ServiceHandler? {
        self.handlers.withLock { $0[name] }
    }

    /// The registered names, sorted.
    public var names: [String] {
        self.handlers.withLock { $0.keys.sorted() }
    }
}
