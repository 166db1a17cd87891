import Hummingbird

/// Counts and times every answered request by method, route, service, version and status, for
/// `GET /metrics`. The outermost middleware, so it sees the status an error answered with; health
/// (`/status`, `/v2/health/live`, `/v2/health/ready`) and metrics requests are not counted, so scrapes and probes do not swamp the
/// figures.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    let metrics: ServerMetrics

    /// Paths not counted.
    static let uncounted: Set<String> = ["/metrics", "/status", "/v2/health/live", "/v2/health/ready"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !Self.uncounted.contains(request.uri.path) else { return try await next(request, context) }
        let start = ContinuousClock.now
        func record(_ status: Int) {
            self.metrics.recordRequest(
                method: request.method.rawValue, route: context.endpointPath ?? "unmatched",
                service: context.parameters.get("name"), version: context.parameters.get("version"),
                status: status, duration: ContinuousClock.now - start
            )
        }
        do {
            let response = try await next(request, context)
            record(response.status.code)
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }
}
