import Hummingbird
import Logging
import NIOCore
import Synchronization

extension MLDeployServer {
    /// `GET /metrics`: every series in the Prometheus text format (version 0.0.4). Open by
    /// default (`public`); with `token`, the authentication middleware requires a signed-in user
    /// as on every other route; with `off`, a 404 that says so. With a metrics port of its own, the
    /// API's port answers a 404 naming that port.
    func addMetricsRoute(to router: Router<ServerRequestContext>) {
        let separate = self.servesMetricsApart
        router.get("/metrics") { _, _ -> Response in
            guard self.configuration.metricsAccess != .off else {
                throw ServerError(.notFound, "This server does not serve metrics (server.metrics: off).")
            }
            guard !separate else {
                let port = self.metricsPort ?? self.configuration.metricsPort ?? 0
                throw ServerError(.notFound, "This server serves its metrics on a port of their own: GET http://\(self.configuration.host):\(port)/metrics (server.metrics_port).")
            }
            return await self.metricsResponse()
        }
    }

    /// Whether a port of its own serves `GET /metrics` (one is configured and metrics are not off).
    var servesMetricsApart: Bool { self.configuration.metricsPort != nil && self.configuration.metricsAccess != .off }

    /// The exposition as a response.
    private func metricsResponse() async -> Response {
        let body = await self.configuration.metrics.exposition(python: self.python)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    /// The listener of `GET /metrics` on a port of its own (``ServerConfiguration/metricsPort``),
    /// or `nil` when the API's port serves them. Only `/metrics` is there; `server.metrics: token`
    /// asks for a token as on the API's port.
    func makeMetricsApplication() -> (any ApplicationProtocol)? {
        guard self.servesMetricsApart, let port = self.configuration.metricsPort else { return nil }
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: AuthenticationMiddleware(
            users: self.users, tokens: self.tokens, metrics: self.configuration.metrics, metricsArePublic: self.configuration.metricsAccess == .public,
            authenticators: self.configuration.authenticators
        ))
        router.get("/metrics") { _, _ -> Response in await self.metricsResponse() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(self.configuration.host, port: port), serverName: "mldeploy-metrics"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                self.boundMetricsPort.withLock { $0 = bound }
                self.logger.info("serving metrics", metadata: ["host": "\(self.configuration.host)", "port": "\(bound)"])
            },
            logger: self.logger
        )
    }

    /// Waits (up to 10 s) until the metrics port listens, so the server reports ready once both do.
    func waitForMetricsPort() async {
        guard self.servesMetricsApart else { return }
        let deadline = ContinuousClock.now + .seconds(10)
        while self.metricsPort == nil, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
