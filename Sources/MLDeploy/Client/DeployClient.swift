import Logging
import Synchronization

/// The entry point: deploys, lists, fetches, updates and deletes services on one deployment target.
///
/// A client owns one backend and runs its lifecycle, as the Python SDK's `DeployClient` does:
/// **initializer** (on creation) → **authentication** (on creation, only when credentials are given)
/// → operations → **destructor** (``shutdown()``). Swift has no asynchronous `deinit`, so call
/// ``shutdown()`` when done, or use ``withDeployClient(target:auth:registry:providers:logger:middleware:_:)`` which always
/// does. Using a client after shutdown fails with ``MLDeployError/Code/clientShutDown``.
///
/// ```swift
/// try BackendRegistry.shared.register(.memory)
/// try await withDeployClient(target: "memory:") { client in
///     let service = try await client.service("add")
///         .handler("add") { call in call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b")) }
///         .inputs(["a": .numeric, "b": .numeric])
///         .outputs(["sum": .numeric])
///         .deploy()
///     print(try await service.consume(["a": 1, "b": 2]).output("sum")!)   // 3.0
/// }
/// ```
///
/// A client is `Sendable`; operations may run concurrently from many tasks.
public final class DeployClient: Sendable {
    /// The backend this client drives.
    public let backend: any Backend
    /// The configuration the backend was created from.
    public let configuration: BackendConfiguration
    /// The logger operations are logged to (label `mldeploy.client` unless given).
    public let logger: Logger
    /// The context the backend was initialized with (its resources are released after shutdown).
    public let context: BackendContext
    private let providers: [any BackendContextProvider]
    /// The middleware every operation runs through, outermost first.
    public let middleware: [any OperationMiddleware]

    /// The chain a client has unless given another: ``TracingOperationMiddleware`` (a span per
    /// operation when the process bootstrapped a tracer; nearly free when it did not), then
    /// ``LoggingOperationMiddleware`` (a debug line with the outcome and duration).
    public static var defaultMiddleware: [any OperationMiddleware] { [TracingOperationMiddleware(), LoggingOperationMiddleware()] }

    private enum Phase {
        case running
        case shuttingDown
        case shutDown
    }

    private struct Lifecycle {
        var phase: Phase = .running
        var inFlight = 0
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let lifecycle = Mutex(Lifecycle())

    /// Creates a client: resolves the target to a backend, runs its initializer and, when `auth` is
    /// given, its authentication.
    ///
    /// If authentication fails the backend's destructor runs before the error is thrown, so nothing
    /// leaks.
    ///
    /// - Parameters:
    ///   - target: Where to deploy: `"memory:"`, `"file:./services"`, `.named("MLServer", host: …)`,
    ///     `.backend(myBackend)`.
    ///   - auth: Credentials, or `nil` to skip the authentication stage.
    ///   - registry: Where names and URI schemes are looked up.
    ///   - providers: Resources for the backend's context, replacing the registration's defaults of
    ///     the same id (for instance an HTTP client configuration from `MLDeployHTTP`).
    ///   - logger: The logger for operations.
    ///   - middleware: What runs around every operation, outermost first (see
    ///     ``OperationMiddleware``); ``defaultMiddleware`` unless given.
    /// - Throws: ``MLDeployError``: ``MLDeployError/Code/unknownBackend``,
    ///   ``MLDeployError/Code/invalidTarget``, ``MLDeployError/Code/authenticationFailed``, or what the
    ///   backend's initializer throws.
    public init(
        target: DeployTarget,
        auth: AuthContext? = nil,
        registry: BackendRegistry = .shared,
        providers: [any BackendContextProvider] = [],
        logger: Logger = Logger(label: "mldeploy.client"),
        middleware: [any OperationMiddleware] = DeployClient.defaultMiddleware
    ) async throws {
        let (backend, configuration, defaults) = try target.resolve(in: registry)
        let providers = [any BackendContextProvider].merging(defaults: defaults, overrides: providers)
        var context = BackendContext(configuration: configuration, logger: Logger(label: "mldeploy.backend.\(configuration.backendName)"))
        var prepared: [any BackendContextProvider] = []
        do {
            for provider in providers {
                try await provider.prepare(&context)
                prepared.append(provider)
            }
            do {
                try await backend.initialize(context: context)
                if let auth {
                    try await backend.authenticate(auth)
                }
            } catch {
                // The destructor runs whenever the initializer was called, so partial resources go.
                try? await backend.shutdown()
                throw error
            }
        } catch {
            for provider in prepared.reversed() { await provider.release(context) }
            logger.debug("client creation failed", metadata: ["target": "\(configuration)", "error": "\(error)"])
            throw error
        }
        self.backend = backend
        self.configuration = configuration
        self.context = context
        self.providers = providers
        self.logger = logger
        self.middleware = middleware
        logger.debug("client ready", metadata: ["target": "\(configuration)", "authenticated": "\(auth != nil)"])
    }

    deinit {
        #if DEBUG
        let phase = self.lifecycle.withLock { $0.phase }
        if case .running = phase {
            self.logger.warning("DeployClient for \(self.configuration) was not shut down; call shutdown() or use withDeployClient { } so the backend can release its resources.")
        }
        #endif
    }

    /// What the backend supports.
    public var capabilities: BackendCapabilities { self.backend.capabilities }

    /// How many backend operations are running now. ``shutdown()`` waits for them; a host can watch
    /// it to drain before stopping.
    public var operationsInFlight: Int { self.lifecycle.withLock { $0.inFlight } }

    /// Whether ``shutdown()`` has been called.
    public var isShutDown: Bool {
        self.lifecycle.withLock { $0.phase != .running }
    }

    /// Runs the backend's destructor after the operations already running have finished.
    ///
    /// New operations fail with ``MLDeployError/Code/clientShutDown`` from the moment this is called.
    /// Calling it again does nothing.
    ///
    /// - Throws: What the backend's destructor throws (the client is shut down regardless).
    public func shutdown() async throws {
        let mustWait: Bool = self.lifecycle.withLock { state in
            guard state.phase == .running else { return false }
            state.phase = .shuttingDown
            return true
        }
        guard mustWait else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow: Bool = self.lifecycle.withLock { state in
                if state.inFlight == 0 { return true }
                state.drained.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        defer { self.lifecycle.withLock { $0.phase = .shutDown } }
        self.logger.debug("client shutting down", metadata: ["target": "\(self.configuration)"])
        var failure: (any Error)?
        do {
            try await self.backend.shutdown()
        } catch {
            failure = error
        }
        for provider in self.providers.reversed() { await provider.release(self.context) }
        if let failure { throw failure }
    }

    /// Runs one backend operation: refuses it after shutdown, counts it in flight, and runs it
    /// through the middleware chain.
    func perform<T>(
        _ operation: BackendOperation,
        service: String? = nil,
        version: String? = nil,
        detail: String? = nil,
        _ body: () async throws -> T
    ) async throws -> T {
        try self.lifecycle.withLock { state in
            guard state.phase == .running else {
                throw MLDeployError(
                    code: .clientShutDown,
                    message: "This DeployClient was shut down; create a new one to \(operation.verb)."
                )
            }
            state.inFlight += 1
        }
        defer {
            let waiters: [CheckedContinuation<Void, Never>] = self.lifecycle.withLock { state in
                state.inFlight -= 1
                guard state.inFlight == 0 else { return [] }
                defer { state.drained.removeAll() }
                return state.drained
            }
            for waiter in waiters { waiter.resume() }
        }
        let context = OperationContext(
            operation: operation, backend: self.configuration.backendName, service: service, version: version, detail: detail,
            requestID: OperationContext.currentRequestID, logger: self.logger
        )
        return try await self.run(self.middleware[...], context, body)
    }

    /// Runs `middleware`, then `body`.
    private func run<T>(_ middleware: ArraySlice<any OperationMiddleware>, _ context: OperationContext, _ body: () async throws -> T) async throws -> T {
        guard let first = middleware.first else { return try await body() }
        return try await first.intercept(context) { context in
            try await self.run(middleware.dropFirst(), context, body)
        }
    }

    /// Fails with ``MLDeployError/Code/unsupported`` unless the backend has `capability`.
    func require(_ capability: BackendCapabilities, for feature: String) throws {
        guard self.backend.capabilities.contains(capability) else {
            throw MLDeployError.unsupported(feature, backend: self.configuration.backendName)
        }
    }
}

/// Creates a client, runs `body` with it, and always shuts it down — also when `body` throws.
///
/// - Parameters:
///   - target: Where to deploy.
///   - auth: Credentials, or `nil`.
///   - registry: Where names and URI schemes are looked up.
///   - providers: Resources for the backend's context (see ``DeployClient/init(target:auth:registry:providers:logger:middleware:)``).
///   - logger: The logger for operations.
///   - middleware: What runs around every operation (see ``OperationMiddleware``).
///   - body: The work to do with the client.
/// - Returns: What `body` returns.
/// - Throws: What client creation, `body` or the shutdown throws (`body`'s error wins).
@discardableResult
public func withDeployClient<Result>(
    target: DeployTarget,
    auth: AuthContext? = nil,
    registry: BackendRegistry = .shared,
    providers: [any BackendContextProvider] = [],
    logger: Logger = Logger(label: "mldeploy.client"),
    middleware: [any OperationMiddleware] = DeployClient.defaultMiddleware,
    _ body: (DeployClient) async throws -> Result
) async throws -> Result {
    let client = try await DeployClient(target: target, auth: auth, registry: registry, providers: providers, logger: logger, middleware: middleware)
    let result: Result
    do {
        result = try await body(client)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
    return result
}

/// The operations a client performs on a backend; used in logs, errors and fault injection.
public enum BackendOperation: String, Sendable, Hashable, CaseIterable {
    /// ``Backend/getService(_:version:)``.
    case getService
    /// ``Backend/listServices(_:)``.
    case listServices
    /// ``Backend/deleteService(_:version:)``.
    case deleteService
    /// ``Backend/deployService(_:)``.
    case deployService
    /// ``Backend/redeployService(_:)``.
    case redeployService
    /// ``Backend/deployRealtime(_:)``.
    case deployRealtime
    /// ``Backend/redeployRealtime(_:)``.
    case redeployRealtime
    /// ``Backend/consume(_:)``.
    case consume
    /// ``Backend/startBatch(_:)``.
    case startBatch
    /// ``Backend/batchStatus(_:includeResults:)``.
    case batchStatus
    /// ``Backend/listBatchExecutions(_:)``.
    case listBatchExecutions
    /// ``Backend/cancelBatch(_:)``.
    case cancelBatch
    /// ``Backend/batchArtifactNames(_:index:)`` and ``Backend/batchArtifact(_:index:fileName:)``.
    case batchArtifacts
    /// ``Backend/swagger(_:)``.
    case swagger

    /// A phrase for messages: "deploy a service".
    var verb: String {
        switch self {
        case .getService: return "get a service"
        case .listServices: return "list services"
        case .deleteService: return "delete a service"
        case .deployService: return "deploy a service"
        case .redeployService: return "redeploy a service"
        case .deployRealtime: return "deploy a realtime service"
        case .redeployRealtime: return "redeploy a realtime service"
        case .consume: return "consume a service"
        case .startBatch: return "start a batch"
        case .batchStatus: return "read a batch's status"
        case .listBatchExecutions: return "list batch executions"
        case .cancelBatch: return "cancel a batch"
        case .batchArtifacts: return "read batch artifacts"
        case .swagger: return "read a swagger document"
        }
    }
}
