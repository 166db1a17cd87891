import Logging
import MLDeploy

/// Gives a backend's context an ``HTTPClient`` built from configuration — with the whole middleware
/// chain, proxy, TLS and timeouts — and shuts it down after the backend's destructor.
///
/// HTTP backends list it in their registration, so they get a client without setting up any
/// transport themselves:
///
/// ```swift
/// BackendRegistration(name: "mine", summary: "…", contextProviders: [HTTPClientProvider()]) { _ in MyBackend() }
///
/// // in MyBackend.initialize(context:)
/// self.http = try context.httpClient
/// ```
///
/// Callers choose the configuration with
/// ``MLDeploy/DeployClient/init(target:auth:http:middlewares:registry:logger:)``, which replaces the
/// registration's default.
public struct HTTPClientProvider: BackendContextProvider {
    /// `"http"`.
    public let id = "http"
    /// The configuration of the client it builds.
    public var configuration: HTTPClient.Configuration
    /// Middlewares of the caller's, run per attempt between retry and logging.
    public var middlewares: [any HTTPClientMiddleware]

    /// A provider of clients with `configuration` and `middlewares`.
    public init(configuration: HTTPClient.Configuration = HTTPClient.Configuration(), middlewares: [any HTTPClientMiddleware] = []) {
        self.configuration = configuration
        self.middlewares = middlewares
    }

    /// Creates the client and puts it in the context.
    public func prepare(_ context: inout BackendContext) async throws {
        var logger = context.logger
        logger[metadataKey: "component"] = "http"
        context[HTTPClientKey.self] = HTTPClient(configuration: self.configuration, middlewares: self.middlewares, logger: logger)
    }

    /// Shuts the client down.
    public func release(_ context: BackendContext) async {
        await context[HTTPClientKey.self]?.shutdown()
    }
}

/// The context key under which ``HTTPClientProvider`` stores the client.
public enum HTTPClientKey: BackendContextKey {
    /// An ``HTTPClient``.
    public typealias Value = HTTPClient
}

extension BackendContext {
    /// The HTTP client prepared for this backend.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` when there is none: the backend's
    ///   registration should list ``HTTPClientProvider``, or the caller should pass one.
    public var httpClient: HTTPClient {
        get throws {
            guard let client = self[HTTPClientKey.self] else {
                throw MLDeployError.invalidArgument(
                    "Backend \(self.configuration.backendName) needs an HTTP client, and none was prepared: list HTTPClientProvider() in its BackendRegistration's contextProviders, or create the DeployClient with http: configuration."
                )
            }
            return client
        }
    }
}

extension DeployClient {
    /// Creates a client whose backend gets an ``HTTPClient`` with `http` configuration and
    /// `middlewares`, replacing any HTTP configuration its registration has.
    ///
    /// - Parameters:
    ///   - target: Where to deploy.
    ///   - auth: Credentials, or `nil`.
    ///   - http: The HTTP client's configuration: timeouts, TLS, proxy, retries.
    ///   - middlewares: Your own HTTP middlewares.
    ///   - operationMiddleware: The chain every backend operation runs through.
    ///   - registry: Where names and URI schemes are looked up.
    ///   - logger: The logger for operations.
    public convenience init(
        target: DeployTarget,
        auth: AuthContext? = nil,
        http: HTTPClient.Configuration,
        middlewares: [any HTTPClientMiddleware] = [],
        operationMiddleware: [any OperationMiddleware] = DeployClient.defaultMiddleware,
        registry: BackendRegistry = .shared,
        logger: Logger = Logger(label: "mldeploy.client")
    ) async throws {
        try await self.init(
            target: target,
            auth: auth,
            registry: registry,
            providers: [HTTPClientProvider(configuration: http, middlewares: middlewares)],
            logger: logger,
            middleware: operationMiddleware
        )
    }
}
