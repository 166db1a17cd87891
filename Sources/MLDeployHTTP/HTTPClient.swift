import Foundation
import Logging
import MLDeploy
import Metrics
import Synchronization

/// An asynchronous HTTP client on libcurl, with a fixed chain of middleware.
///
/// One thread drives libcurl's multi interface; tasks never block on the network. Connections are
/// kept alive and reused, HTTP/2 is used when a server offers it, and cancelling a task aborts its
/// transfer at once.
///
/// Every request passes through, in this order:
///
/// 1. **authentication** — adds `Authorization: Bearer <token>`, refreshes the token before it expires
///    and once after a 401 (``HTTPAuthentication``);
/// 2. **retry** — replays failed attempts with backoff, per ``RetryPolicy``;
/// 3. **your middlewares**, in the order given — once per attempt;
/// 4. **logging and metrics** — one log line and one measurement per attempt;
/// 5. **the transport** — proxy, TLS, timeouts, redirects, decompression.
///
/// ```swift
/// let client = HTTPClient(configuration: .init())
/// let response = try await client.send(try HTTPRequest(.get, "https://example.com/status"))
/// try await client.shutdown()
/// ```
///
/// Call ``shutdown()`` when done: it cancels running requests and stops the thread.
public final class HTTPClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: Configuration
    /// The credentials the authentication step uses; install a token source to enable it.
    public let authentication: HTTPAuthentication
    /// The user's middlewares, between retry and logging.
    public let middlewares: [any HTTPClientMiddleware]

    private let authenticationStep: AuthenticationMiddleware
    private let retryStep: RetryMiddleware
    private let loggingStep: LoggingMiddleware
    private let requestIDPrefix = String(UUID().uuidString.prefix(8)).lowercased()
    private let requestCounter = Atomic<Int>(0)
    private let transport: CurlTransport
    private let loops: [CurlLoop]
    private let logger: Logger

    /// Creates a client and starts its network thread.
    ///
    /// - Parameters:
    ///   - configuration: Timeouts, TLS, proxy, retries and the rest.
    ///   - middlewares: Your own steps, run per attempt between retry and logging.
    ///   - logger: Where requests are logged (debug level; credentials never appear).
    ///   - metricsFactory: Where request counts and durations go; the process's bootstrapped
    ///     factory by default.
    public init(
        configuration: Configuration = Configuration(),
        middlewares: [any HTTPClientMiddleware] = [],
        logger: Logger = Logger(label: "mldeploy.http"),
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.configuration = configuration
        self.middlewares = middlewares
        self.logger = logger
        self.authentication = HTTPAuthentication(settings: configuration.authentication)
        let count = max(1, configuration.loopThreads)
        self.loops = (0..<count).map { _ in CurlLoop(configuration: configuration, share: count) }
        self.transport = CurlTransport(loops: self.loops, configuration: configuration, proxy: configuration.proxy.resolve())
        self.authenticationStep = AuthenticationMiddleware(authentication: self.authentication)
        self.retryStep = RetryMiddleware(configuration: configuration.retry)
        self.loggingStep = LoggingMiddleware(metricsFactory: metricsFactory ?? MetricsSystem.factory)
        self.authentication.attach(TokenTransport { [weak self] request in
            guard let self else { throw MLDeployError(code: .cancelled, message: "The HTTP client is gone.") }
            return try await self.send(request)
        })
    }

    /// Sends a request and reads the whole response body into memory (up to
    /// ``Configuration/maximumResponseSize``).
    ///
    /// Any status is a response, not an error: check ``HTTPResponse/status``.
    ///
    /// - Throws: ``MLDeploy/MLDeployError`` — ``MLDeploy/MLDeployError/Code/invalidRequest``,
    ///   ``MLDeploy/MLDeployError/Code/unreachable``, ``MLDeploy/MLDeployError/Code/transportFailure``,
    ///   ``MLDeploy/MLDeployError/Code/timeout``,
    ///   ``MLDeploy/MLDeployError/Code/tlsFailure``, ``MLDeploy/MLDeployError/Code/responseTooLarge``,
    ///   ``MLDeploy/MLDeployError/Code/authenticationFailed``, ``MLDeploy/MLDeployError/Code/cancelled``.
    nonisolated(nonsending) public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await self.execute(request, mode: .buffered)
    }

    /// Sends a request and returns as soon as the response headers arrive; the body is a stream the
    /// caller reads at its own pace, with bounded memory. Dropping the body before its end cancels
    /// the transfer.
    ///
    /// - Throws: As ``send(_:)``; errors while reading the body are thrown by the body's iterator.
    public func stream(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await self.execute(request, mode: .streamed)
    }

    /// Cancels the requests still running and stops the network threads. Requests sent afterwards
    /// fail with ``MLDeploy/MLDeployError/Code/cancelled``.
    public func shutdown() async {
        for loop in self.loops { await loop.shutdown() }
    }

    nonisolated(nonsending) private func execute(_ request: HTTPRequest, mode: CurlTransfer.Mode) async throws -> HTTPResponse {
        // Unique per client and request, and far cheaper than a UUID per request.
        let requestID = "\(self.requestIDPrefix)-\(self.requestCounter.add(1, ordering: .relaxed).newValue)"
        let context = HTTPRequestContext(requestID: requestID, attempt: 1, logger: self.logger, responseMode: mode)
        return try await self.authenticationStep.run(request, context: context) { request, context in
            try await self.retryStep.run(request, context: context) { request, context in
                try await self.attempt(0, request, context)
            }
        }
    }

    /// One attempt: the user's middlewares from `index` on, then logging and metrics, then the
    /// transport.
    ///
    /// The built-in steps are called directly, with closures that stay on the caller's executor,
    /// rather than through the middleware protocol: each hop through an existential `intercept`
    /// and its `next` closure cost an executor switch (11 of a request's 18) and an async frame,
    /// CPU on the loop thread that a sequential caller waits for. User middlewares keep the
    /// protocol.
    nonisolated(nonsending) private func attempt(_ index: Int, _ request: HTTPRequest, _ context: HTTPRequestContext) async throws -> HTTPResponse {
        guard index < self.middlewares.count else {
            return try await self.loggingStep.run(request, context: context) { request, context in
                try await self.transport.execute(request, context: context)
            }
        }
        return try await self.middlewares[index].intercept(request, context: context) { request, context in
            try await self.attempt(index + 1, request, context)
        }
    }

    /// libcurl's version string (`libcurl/7.88.1 OpenSSL/3.0.22 …`), for diagnostics.
    public static var libcurlVersion: String { CurlGlobal.version }

    /// Runs `operation` with its task's code on one of the client's loop threads, the threads that
    /// drive libcurl (a task executor preference, as Swift's `withTaskExecutorPreference`).
    ///
    /// Without it, each answer is handed from the loop thread to Swift's shared pool, which must
    /// wake a thread to continue the caller. Inside, the caller continues on the loop thread that
    /// received the answer, and its next request is handed to a loop that is already awake: a
    /// sequential caller (one request after another) goes faster, with fewer threads woken. Child
    /// tasks made inside inherit the preference, and so the same loop: with several
    /// ``Configuration/loopThreads``, call this in each concurrent task to spread them over the loops.
    ///
    /// The loop runs transfers only between the caller's steps, so keep the code inside to
    /// requests and light work: a long computation there stalls every transfer of that loop.
    /// Leave the closure (or use `withTaskExecutorPreference(nil)`) for heavy work.
    public func withLoopExecutor<T: Sendable>(_ operation: () async throws -> T) async rethrows -> T {
        let loop = self.transport.loopForCurrentTask()
        return try await CurlLoop.$preferred.withValue(loop) {
            try await withTaskExecutorPreference(loop) {
                try await operation()
            }
        }
    }
}
