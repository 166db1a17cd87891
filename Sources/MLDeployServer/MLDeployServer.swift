import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import UnixSignals
import MLDeploy
import ServiceRuntime
import NIOCore
import Synchronization
import Tracing

/// The ML Server 9.x operationalization REST API in front of any backend, so the
/// unmodified Python SDK — and MLDeploy's own MLServer backend — can publish and consume against it.
///
/// The server is a thin REST front over a ``MLDeploy/DeployClient``: every request becomes the same
/// validated, logged client operation a Swift caller would make, on whatever target the client has.
///
/// ```swift
/// try await withDeployClient(target: "file:./services") { client in
///     let server = MLDeployServer(client: client, configuration: ServerConfiguration())
///     try await server.run()          // until SIGINT or SIGTERM
/// }
/// ```
public final class MLDeployServer: Sendable {
    /// The client every request goes through.
    public let client: DeployClient
    /// The users who may log in.
    public let users: UserStore
    /// The access and refresh tokens.
    public let tokens: TokenService
    let sessions: SessionStore
    /// Where users, tokens, sessions, snapshots, batch owners, pool settings and the node registry
    /// are kept: files and memory on one node, or a database every node shares.
    public let state: any ServerStateStore
    /// This server process's id among the nodes sharing ``state``.
    public let node: String
    /// Each user's calls in flight, bounded by ``ServerConfiguration/maximumCallsPerUser``.
    let calls: CallLimiter
    /// The pool sizes this node took from the shared state (``applySharedPoolSettings()``).
    let sharedPoolSizes = Mutex<[ServiceReference: PythonRuntime.PoolSize]>([:])
    /// How the server listens.
    public let configuration: ServerConfiguration
    /// Where uploads are spooled while they arrive (`DATA-DIR/uploads`, owner-only).
    let uploadDirectory: URL
    let logger: Logger
    private let boundPort = Mutex<Int?>(nil)
    let boundMetricsPort = Mutex<Int?>(nil)

    /// Creates a server over `client`'s target, with its state in `state` — by default its users
    /// and signing key in files of the configuration's data directory (created owner-only if
    /// missing) and its sessions in memory.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` when the data directory cannot be
    ///   made.
    public init(
        client: DeployClient, configuration: ServerConfiguration, state: (any ServerStateStore)? = nil, logger: Logger = Logger(label: "mldeploy.server")
    ) throws {
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Cannot create the data directory \(configuration.dataDirectory): \(error.localizedDescription)")
        }
        // Uploads are spooled here; what a crash left behind is removed.
        let uploads = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("uploads")
        try? FileManager.default.removeItem(at: uploads)
        do {
            try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Cannot create the upload directory \(uploads.path): \(error.localizedDescription)")
        }
        self.uploadDirectory = uploads
        let state = try state ?? LocalServerState(directory: configuration.dataDirectory)
        self.state = state
        self.node = NodeRegistry.newNodeID()
        self.users = UserStore(store: state)
        self.tokens = TokenService(store: state, accessLifetime: configuration.accessTokenLifetime, refreshLifetime: configuration.refreshTokenLifetime)
        self.client = client
        self.sessions = SessionStore(store: state, node: self.node, maximumSessions: configuration.maximumSessionsPerUser, storageQuota: configuration.userStorageQuota)
        self.calls = CallLimiter(maximum: configuration.maximumCallsPerUser)
        self.configuration = configuration
        self.logger = logger
    }

    /// A new access and refresh token for `user`'s current account, as `POST /login` issues them —
    /// for hosts that sign their users in by other means, and for tests.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/notFound`` when there is no such user.
    public func issueTokens(for user: String, now: Date = Date()) async throws -> TokenService.Grant {
        guard let account = await self.users.account(of: user) else { throw MLDeployError(code: .notFound, message: "There is no user named '\(user)'.") }
        return try await self.tokens.issue(for: user, account: account.id, now: now)
    }

    /// The node registry of ``state``.
    var registry: NodeRegistry { NodeRegistry(store: self.state, node: self.node) }

    /// This node's URL as other nodes and `/status` name it (`http://HOST:PORT/`).
    var url: String {
        let host = ["0.0.0.0", "::", ""].contains(self.configuration.host) ? ProcessInfo.processInfo.hostName : self.configuration.host
        return "http://\(host):\(self.port ?? self.configuration.port)/"
    }

    /// The port the server listens on, once it is running (the chosen one when configured with `0`).
    public var port: Int? { self.boundPort.withLock { $0 } }

    /// The port serving `GET /metrics` apart from the API, once it listens (`nil` when
    /// ``ServerConfiguration/metricsPort`` is not set).
    public var metricsPort: Int? { self.boundMetricsPort.withLock { $0 } }

    /// Every route the server serves, as `METHOD /path/{parameter}` (OpenAPI's spelling), sorted:
    /// what `docs/openapi.yaml` must describe.
    public var routes: [String] {
        self.makeRouter().routes.map { route in "\(route.method) \(RouteAccess.openAPIPath("\(route.path)"))" }.sorted()
    }

    /// The router with every endpoint.
    func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        // A server span per request, continuing the caller's trace (W3C `traceparent`); every
        // operation, worker call and batch record it starts are its children. Only when the
        // process bootstrapped a tracer before the server started (as `mldeploy serve` does when
        // an OTLP endpoint is configured): without one, the middleware would build every request's
        // span attributes to throw them away.
        if !(InstrumentationSystem.tracer is NoOpTracer) { router.add(middleware: TracingMiddleware()) }
        if self.configuration.metricsAccess != .off {
            router.add(middleware: RequestMetricsMiddleware(metrics: self.configuration.metrics))
        }
        router.add(middleware: AccessLogMiddleware(logger: self.logger, tokens: self.tokens))
        router.add(middleware: AuthenticationMiddleware(
            users: self.users, tokens: self.tokens, metrics: self.configuration.metrics, metricsArePublic: self.configuration.metricsAccess == .public,
            authenticators: self.configuration.authenticators
        ))
        router.add(middleware: AuthorizationMiddleware(maximumJSONBodySize: self.configuration.maximumJSONBodySize, maximumUploadSize: self.configuration.maximumUploadSize))
        self.addLoginRoutes(to: router)
        self.addStatusRoutes(to: router)
        self.addMetricsRoute(to: router)
        self.addServiceRoutes(to: router)
        self.addSessionRoutes(to: router)
        self.addPublishRoutes(to: router)
        self.addBatchRoutes(to: router)
        self.addRealtimeRoutes(to: router)
        self.addConsumeRoutes(to: router)
        self.addOIPRoutes(to: router)
        return router
    }

    /// Runs the server until the task is cancelled or the process gets SIGINT or SIGTERM; requests in
    /// flight finish first. `onReady` runs once the socket is listening (and the metrics port's,
    /// when ``ServerConfiguration/metricsPort`` gives one).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/addressInUse`` when another process listens on the
    ///   configured port (``ServerConfiguration/checkAddressIsFree()`` finds that before anything is
    ///   created).
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // Published code must not run with this server's rights by accident.
        _ = try await self.checkConfinement()
        let idle = self.configuration.idleTimeout.components
        let (bodyTimeout, bodyRate) = (self.configuration.bodyReadTimeout, self.configuration.minimumBodyRate)
        let application = Application(
            router: self.makeRouter(),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestBodyDeadline(timeout: bodyTimeout, minimumRate: bodyRate)],
                idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
            )),
            configuration: .init(
                address: .hostname(self.configuration.host, port: self.configuration.port), serverName: "mldeploy",
                availableConnectionsDelegate: MaximumAvailableConnections(self.configuration.maximumConnections)
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? self.configuration.port
                self.boundPort.withLock { $0 = port }
                await self.waitForMetricsPort()
                self.logger.info("listening", metadata: ["host": "\(self.configuration.host)", "port": "\(port)"])
                await onReady(port)
            },
            logger: self.logger
        )
        // One service group, as any host's: SIGINT and SIGTERM stop the ports gracefully (requests
        // in flight finish), then the background service (the node leaves the registry); either
        // port failing (a bind) stops everything. The caller owns the client and shuts it down.
        let background = MLDeployServerService(server: self, shutsDownClient: false) { self.port == nil ? nil : self.url }
        do {
            let services: [any ServiceLifecycle.Service] = [background, application] + (self.makeMetricsApplication().map { [$0] } ?? [])
            try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: self.logger)).run()
        } catch let error as IOError where self.port == nil {
            // The bind failed (the port was taken after any check): say which port and what to do,
            // not NIO's `bind(descriptor:ptr:bytes:)`.
            throw ServerConfiguration.bindFailure(errno: error.errnoCode, host: self.configuration.host, port: self.configuration.port)
        } catch let error as IOError where self.metricsPort == nil && self.configuration.metricsPort != nil {
            throw ServerConfiguration.bindFailure(errno: error.errnoCode, host: self.configuration.host, port: self.configuration.metricsPort ?? 0, flag: "--metrics-port")
        }
    }
}
