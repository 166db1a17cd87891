import Tracing

/// One span per operation through swift-distributed-tracing — the tracer given, or the one the
/// application bootstrapped (`InstrumentationSystem.bootstrap`).
///
/// The span is named `mldeploy.<operation>` (`mldeploy.consume`), of kind `client` (the backend
/// may be another process or server), a child of the span current in the calling task; it
/// carries `mldeploy.backend`, `mldeploy.service`, `mldeploy.version`, `mldeploy.detail` and
/// `mldeploy.request_id`, and records a failure (the error, an error status, and its code as
/// `mldeploy.error.code`).
public struct TracingOperationMiddleware: OperationMiddleware {
    private let tracer: (any Tracer)?

    /// Creates the middleware.
    ///
    /// - Parameter tracer: A tracer of its own (tests, a tracer apart); by default the one the
    ///   process bootstrapped.
    public init(tracer: (any Tracer)? = nil) {
        self.tracer = tracer
    }

    /// Runs the operation inside its span.
    public func intercept<Result>(_ operation: OperationContext, next: (OperationContext) async throws -> Result) async throws -> Result {
        let tracer: any Tracer = self.tracer ?? InstrumentationSystem.tracer
        // No tracer bootstrapped: no span to fill (building its attributes was a few percent of a
        // fast call's time for nothing).
        if tracer is NoOpTracer { return try await next(operation) }
        return try await Self.traced(tracer, operation, next)  // opens the existential
    }

    private static func traced<T: Tracer, Result>(_ tracer: T, _ operation: OperationContext, _ next: (OperationContext) async throws -> Result) async throws -> Result {
        try await tracer.withSpan("mldeploy.\(operation.operation.rawValue)", ofKind: .client) { span in
            span.attributes["mldeploy.backend"] = operation.backend
            if let service = operation.service { span.attributes["mldeploy.service"] = service }
            if let version = operation.version { span.attributes["mldeploy.version"] = version }
            if let detail = operation.detail { span.attributes["mldeploy.detail"] = detail }
            if let id = operation.requestID { span.attributes["mldeploy.request_id"] = id }
            do {
                return try await next(operation)
            } catch {
                span.attributes["mldeploy.error.code"] = MLDeployError.Code.outcome(of: error)
                throw error  // withSpan records the error and sets the error status
            }
        }
    }
}
