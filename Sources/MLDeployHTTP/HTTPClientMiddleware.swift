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
    public var logger: Logger
    /// Whether the response body is read into memory or streamed.
    var responseMode: CurlTransfer.Mode
}
