import Hummingbird
import MLDeploy

/// Requires a valid bearer token on every request except login, refresh and status, as on ML Server:
/// a missing, malformed, forged, expired or revoked token, or one of an account that no longer
/// exists — removed, or removed and added again under the same name — is a 401. On success the
/// context carries the user, their current role and the token's claims. A token the server did not
/// issue is offered to the configured ``Authenticator``s (an identity provider's tokens), in order.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    let users: UserStore
    let tokens: TokenService
    /// Where refusals are counted.
    let metrics: ServerMetrics
    /// Whether `GET /metrics` is open (`server.metrics: public`).
    let metricsArePublic: Bool
    /// Who else may vouch for a bearer token.
    let authenticators: [any Authenticator]

    /// The paths that need no token — the routes ``RouteAccess/table`` marks open — and `/metrics`
    /// only when ``metricsArePublic``.
    static let openPaths: Set<String> = Set(
        RouteAccess.table.filter { $0.value == .open }.map { String($0.key.split(separator: " ")[1]) }.filter { $0 != "/metrics" }
    )

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) || (self.metricsArePublic && request.uri.path == "/metrics") { return try await next(request, context) }
        do {
            return try await self.authenticated(request, context: context, next: next)
        } catch let error as ServerError where error.status == .unauthorized {
            self.metrics.recordTokenRefusal()
            throw error
        }
    }

    private func authenticated(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A refused request's body is never read: the connection ends after the answer.
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw context.refusingUnreadBody(
                ServerError(.unauthorized, "This endpoint needs an access token: log in with POST /login and send 'Authorization: Bearer <token>'."), of: request
            )
        }
        let bearer = String(header.dropFirst(7))
        if !TokenService.isOwnToken(bearer), !self.authenticators.isEmpty {
            return try await self.external(bearer, request, context: context, next: next)
        }
        // A store that cannot be read (its database down) is "try again" (503), not "log in again".
        let verified: (claims: TokenService.AccessTokenClaims, account: (role: ServerRole, id: String))?
        do {
            if let claims = try await self.tokens.verify(accessToken: bearer) {
                if let external = AuthenticatedUser(user: claims.user, accountID: claims.account) {
                    // A user an authenticator signed in at login: the role is the token's.
                    verified = (claims, (external.role, claims.account))
                } else {
                    verified = try await self.users.lookup(claims.user).map { (claims, $0) }
                }
            } else {
                verified = nil
            }
        } catch let error as MLDeployError {
            throw context.refusingUnreadBody(ServerError(error), of: request)
        }
        guard let (claims, account) = verified, account.id == claims.account else {
            throw context.refusingUnreadBody(ServerError(.unauthorized, "The access token is invalid, expired or revoked; log in again or refresh it."), of: request)
        }
        var context = context
        context.user = claims.user
        context.role = account.role
        context.token = claims
        return try await next(request, context)
    }

    /// A token another authenticator vouches for (the first that knows it), or a 401 saying why not.
    private func external(_ bearer: String, _ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var user: AuthenticatedUser?
        do {
            for authenticator in self.authenticators {
                user = try await authenticator.authenticate(bearer: bearer)
                if user != nil { break }
            }
        } catch let error as MLDeployError {
            throw context.refusingUnreadBody(ServerError(error), of: request)
        }
        guard let user else {
            throw context.refusingUnreadBody(ServerError(.unauthorized, "The access token is not one this server issued nor one its identity providers sign; log in again."), of: request)
        }
        var context = context
        context.user = user.name
        context.role = user.role
        return try await next(request, context)
    }
}
