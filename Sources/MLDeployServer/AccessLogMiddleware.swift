import Hummingbird
import Logging
import MLDeploy

/// One structured log line per request, at `info`: method, path (never the query, which can carry a
/// refresh token), status, duration in milliseconds and the authenticated user, if any. Failed
/// requests are logged with the status their error answers with. It is the outermost middleware, so
/// it also turns an ``MLDeploy/MLDeployError`` that escaped a handler into its ``ServerError``.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    let logger: Logger
    let tokens: TokenService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        // Nothing to log below `info` (a production server that logs elsewhere, a benchmark): the
        // token is checked once, by authentication, not a second time for a line nobody keeps.
        let logs = self.logger.logLevel <= .info
        var user: String?
        if logs, let header = request.headers[.authorization], header.hasPrefix("Bearer ") { user = await self.tokens.user(forAccessToken: String(header.dropFirst(7))) }
        func log(_ status: Int) {
            guard logs else { return }
            let elapsed = (ContinuousClock.now - start).components
            let milliseconds = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
            self.logger.info(
                "request",
                metadata: [
                    "method": "\(request.method)", "path": "\(context.mountPrefix)\(request.uri.path)", "status": "\(status)",
                    "duration_ms": "\((milliseconds * 100).rounded() / 100)", "user": "\(user ?? "-")",
                ]
            )
        }
        do {
            let response = try await next(request, context)
            log(response.status.code)
            return response
        } catch {
            // An MLDeploy error escaping a handler answers as such (400 for bad input, 404 for an
            // unknown resource), never as a bare 500.
            let answered: any Error = (error as? MLDeployError).map { ServerError($0) } ?? error
            guard let response = answered as? any HTTPResponseError else {
                log(500)
                throw answered
            }
            if let detail = (response as? ServerError)?.detail {
                self.logger.error("request failed", metadata: ["path": "\(context.mountPrefix)\(request.uri.path)", "error": "\(detail)"])
            }
            log(response.status.code)
            throw answered
        }
    }
}
