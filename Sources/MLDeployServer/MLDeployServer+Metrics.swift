import Hummingbird
import NIOCore

extension MLDeployServer {
    /// `GET /metrics`: every series in the Prometheus text format (version 0.0.4). Open by
    /// default (`public`); with `token`, the authentication middleware requires a signed-in user
    /// as on every other route; with `off`, a 404 that says so.
    func addMetricsRoute(to router: Router<ServerRequestContext>) {
        router.get("/metrics") { _, _ -> Response in
            guard self.configuration.metricsAccess != .off else {
                throw ServerError(.notFound, "This server does not serve metrics (server.metrics: off).")
            }
            let body = await self.configuration.metrics.exposition(python: self.python)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }
}
