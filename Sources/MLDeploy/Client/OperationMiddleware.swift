import Logging

/// Code that runs around every backend operation a ``DeployClient`` performs, whatever the backend —
/// built in, third-party or a plugin: metrics, tracing, logging, audit, tenancy checks, caching.
///
/// Shaped like the HTTP client's middleware: each middleware gets the operation's
/// ``OperationContext`` and `next`, the rest of the chain; it may look at the context, change it,
/// time or refuse the operation, or handle what `next` returns or throws.
///
/// ```swift
/// struct Audit: OperationMiddleware {
///     func intercept<Result>(_ operation: OperationContext, next: (OperationContext) async throws -> Result) async throws -> Result {
///         print("\(operation.operation) \(operation.service ?? "-")")
///         return try await next(operation)
///     }
/// }
/// let client = try await DeployClient(target: "memory:", middleware: DeployClient.defaultMiddleware + [Audit()])
/// ```
///
/// The chain runs in array order: the first middleware is the outermost, so it sees the operation
/// first and its outcome last. The default chain is ``DeployClient/defaultMiddleware`` (tracing, then logging);
/// a typical production chain is `[TracingOperationMiddleware(), MetricsOperationMiddleware(),
/// LoggingOperationMiddleware()]`, so the span covers the metrics and the log line carries the trace.
/// The client's own checks (shut down, in flight) run outside the chain; validation of names,
/// definitions and inputs runs before it.
public protocol OperationMiddleware: Sendable {
    /// Runs around one operation: call `next` (at most once) to go on to the backend.
    func intercept<Result>(
        _ operation: OperationContext,
        next: (OperationContext) async throws -> Result
    ) async throws -> Result
}

/// One backend operation, as middleware sees it.
public struct OperationContext: Sendable, CustomStringConvertible {
    /// Which operation.
    public var operation: BackendOperation
    /// The backend's registry name (`memory`, `filesystem`, `MLServer`, a plugin's name).
    public var backend: String
    /// The service the operation is about, when it is about one.
    public var service: String?
    /// The version, when the operation names one (a deploy without a version names none).
    public var version: String?
    /// More about the subject: a batch execution id, a record index, an artifact.
    public var detail: String?
    /// The id of the request this operation serves, when a server or tool set one
    /// (``OperationContext/$currentRequestID``); logged with the operation.
    public var requestID: String?
    /// The client's logger; middleware may add metadata for the middleware after it.
    public var logger: Logger

    /// Creates a context.
    public init(operation: BackendOperation, backend: String, service: String? = nil, version: String? = nil, detail: String? = nil, requestID: String? = nil, logger: Logger) {
        self.operation = operation
        self.backend = backend
        self.service = service
        self.version = version
        self.detail = detail
        self.requestID = requestID
        self.logger = logger
    }

    /// The request being served by the current task, if any: a server binds it per request
    /// (`OperationContext.$currentRequestID.withValue(id) { … }`) and every operation performed
    /// within carries it.
    @TaskLocal public static var currentRequestID: String?

    /// `operation service/version` (and the detail).
    public var description: String {
        var text = self.operation.rawValue
        if let service = self.service { text += " \(service)/\(self.version ?? "latest")" }
        if let detail = self.detail { text += " \(detail)" }
        return text
    }
}

extension MLDeployError.Code {
    /// The outcome label for metrics and logs: `success`, or the error's code (`not-found`, …;
    /// `error` for an error that is not an ``MLDeployError``).
    public static func outcome(of error: (any Error)?) -> String {
        guard let error else { return "success" }
        if let error = error as? MLDeployError { return error.code.rawValue }
        if error is CancellationError { return Self.cancelled.rawValue }
        return "error"
    }
}
