import Logging

/// Logs every operation's outcome and duration, with its subject and the request id.
///
/// Successes at `debug` (`level`), failures at `debug` too unless `failureLevel` says otherwise: a
/// `not-found` is an answer, not an incident, for most callers. Part of
/// ``DeployClient/defaultMiddleware``.
public struct LoggingOperationMiddleware: OperationMiddleware {
    /// The level successes are logged at.
    public var level: Logger.Level
    /// The level failures are logged at.
    public var failureLevel: Logger.Level

    /// Creates the middleware.
    public init(level: Logger.Level = .debug, failureLevel: Logger.Level = .debug) {
        self.level = level
        self.failureLevel = failureLevel
    }

    /// Logs the operation's outcome after it ran.
    public func intercept<Result>(_ operation: OperationContext, next: (OperationContext) async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        var metadata: Logger.Metadata = ["subject": "\(operation)", "backend": "\(operation.backend)"]
        if let id = operation.requestID { metadata["request-id"] = "\(id)" }
        do {
            let result = try await next(operation)
            metadata["duration"] = "\(ContinuousClock.now - start)"
            operation.logger.log(level: self.level, "\(operation.operation.rawValue) succeeded", metadata: metadata)
            return result
        } catch {
            metadata["duration"] = "\(ContinuousClock.now - start)"
            metadata["error"] = "\(error)"
            operation.logger.log(level: self.failureLevel, "\(operation.operation.rawValue) failed", metadata: metadata)
            throw error
        }
    }
}
