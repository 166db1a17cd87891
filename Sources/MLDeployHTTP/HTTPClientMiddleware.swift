import Logging

/// A step in the HTTP client's chain: it sees each request, may change it, passes it on with `next`,
/// and sees the response or the error that comes back.
///
/// Shaped after swift-openapi-runtime's `ClientMiddleware`. A middleware may call `next` more than
/// once (the retry middleware does) or not at all (to answer from a cache).
///
/// ```swift
/// struct TenantHeader: HTTPClientMiddleware {
///     let tenant: String
///     func intercept(
///         _ request: HTTPRequest,
///         context: HTTPRequestContext,
///         next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
///     ) async throws -> HTTPResponse {
///         var request = request
///         request.headers["X-Tenant"] = tenant
///         return try await next(request, context)
///     }
/// }
/// let client = HTTPClient(middlewares: [TenantHeader(tenant: "research")])
/// ```
///
/// Your middlewares run *inside* retries and after authentication — once per attempt, with the
/// `Authorization` header already set — so request signing sees the final request. See
/// ``HTTPClient`` for the whole order.
public protocol HTTPClientMiddleware: Sendable {
    /// Handles one request.
    ///
    /// - Parameters:
    ///   - request: The request so far.
    ///   - context: Facts about this request and attempt.
    ///   - next: The rest of the chain, ending in the network.
    /// - Returns: The response.
    /// - Throws: What the rest of the chain throws, or an error of the middleware's own.
    func intercept(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
    ) async throws -> HTTPResponse
}

/// Facts about one request as it passes through the chain.
public struct HTTPRequestContext: Sendable {
    /// An id for the logical request, the same across its attempts (sent as `X-Request-ID`): a
    /// per-client random prefix and a counter, e.g. `3f9c2a1b-42`.
    public var requestID: String
    /// The attempt number, from 1; the retry middleware increments it.
    public var attempt: Int
    /// The logger to log with (carries the request id as metadata).
    ///
    /// The `request-id` metadata is attached when the logger is first read, not for every request:
    /// setting metadata makes some handlers (swift-log's stream handler) format all of it again, a
    /// cost most requests, which log nothing, need not pay.
    public var logger: Logger {
        get {
            if self.loggerCarriesRequestID { return self.baseLogger }
            var logger = self.baseLogger
            logger[metadataKey: "request-id"] = "\(self.requestID)"
            return logger
        }
        set {
            self.baseLogger = newValue
            self.loggerCarriesRequestID = true
        }
    }
    /// Whether something would be logged at `level`, without attaching the request id.
    func logs(at level: Logger.Level) -> Bool {
        self.baseLogger.logLevel <= level
    }
    /// Whether the response body is read into memory or streamed.
    var responseMode: CurlTransfer.Mode

    private var baseLogger: Logger
    private var loggerCarriesRequestID: Bool

    init(requestID: String, attempt: Int, logger: Logger, responseMode: CurlTransfer.Mode) {
        self.requestID = requestID
        self.attempt = attempt
        self.baseLogger = logger
        self.loggerCarriesRequestID = false
        self.responseMode = responseMode
    }
}

/// What a built-in step (authentication, retry, logging) calls to go on: the rest of the chain.
///
/// Unlike ``HTTPClientMiddleware``'s `next`, it runs on its caller's executor, so passing a request
/// down the built-in steps switches no executor: the steps are a fixed part of every request, and
/// each switch is CPU on the loop thread a sequential caller waits for.
typealias BuiltInStepNext = nonisolated(nonsending) (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
