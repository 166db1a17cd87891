import Hummingbird

/// Requires a valid bearer token on every request except login, refresh and status, as on ML Server:
/// a missing, malformed, forged or expired token, or one of a user who no longer exists, is a 401.
/// On success the context carries the user and their current role.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    let users: UserStore
    let tokens: TokenService

    /// The paths that need no token.
    static let openPaths: Set<String> = ["/login", "/login/refreshToken", "/status"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw ServerError(.unauthorized, "This endpoint needs an access token: log in with POST /login and send 'Authorization: Bearer <token>'.")
        }
        guard let user = self.tokens.user(forAccessToken: String(header.dropFirst(7))), let role = self.users.role(of: user) else {
            throw ServerError(.unauthorized, "The access token is invalid or expired; log in again or refresh it.")
        }
        var context = context
        context.user = user
        context.role = role
        return try await next(request, context)
    }
}
