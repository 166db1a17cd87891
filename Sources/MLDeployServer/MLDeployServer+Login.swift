import Hummingbird
import Logging
import MLDeploy

extension MLDeployServer {
    /// Authentication, as ML Server's login endpoints: `POST /login`, `POST /login/refreshToken`,
    /// `DELETE /login/refreshToken?refreshToken=…`; and `DELETE /login/accessToken`, which revokes
    /// the caller's access token.
    func addLoginRoutes(to router: Router<ServerRequestContext>) {
        router.post("/login") { request, _ -> Response in
            var request = request
            let body = try await request.json(limit: 64 << 10)
            guard let username = body["username"]?.stringValue, let password = body["password"]?.stringValue else {
                throw ServerError(.badRequest, "POST /login takes {\"username\": …, \"password\": …}.", exceptionType: "invalid-argument")
            }
            // PBKDF2 is deliberately slow: run it off the cooperative pool.
            let users = self.users
            if try await users.verify(name: username, password: password) != nil {
                self.configuration.metrics.recordLogin(succeeded: true)
                return try Response.json(try await self.tokens.issue(for: username, account: await users.account(of: username)?.id ?? "").json)
            }
            // Not a local user (or not their password): the authenticators that take passwords.
            do {
                for authenticator in self.configuration.authenticators {
                    guard let user = try await authenticator.login(username: username, password: password) else { continue }
                    self.configuration.metrics.recordLogin(succeeded: true)
                    self.logger.info("login", metadata: ["user": "\(user.name)", "authenticator": "\(user.authenticator)", "role": "\(user.role)"])
                    return try Response.json(try await self.tokens.issue(for: user.name, account: user.accountID).json)
                }
            } catch let error as MLDeployError {
                self.configuration.metrics.recordLogin(succeeded: false)
                // The directory being away is theirs to know about (it names no server file): said as it is.
                if error.code == .unreachable { throw ServerError.retryAfter(.serviceUnavailable, error.message, seconds: 5, exceptionType: error.code.rawValue) }
                throw ServerError(error)
            }
            self.logger.notice("login refused", metadata: ["user": "\(username)"])
            self.configuration.metrics.recordLogin(succeeded: false)
            throw ServerError(.unauthorized, "Invalid user name or password.")
        }
        router.post("/login/refreshToken") { request, _ -> Response in
            var request = request
            let body = try await request.json(limit: 64 << 10)
            guard let token = body["refreshToken"]?.stringValue else {
                throw ServerError(.badRequest, "POST /login/refreshToken takes {\"refreshToken\": …}.", exceptionType: "invalid-argument")
            }
            do {
                let users = self.users
                return try Response.json(try await self.tokens.refresh(token, currentAccount: { await users.account(of: $0)?.id }).json)
            } catch let error as MLDeployError {
                throw ServerError(error)
            }
        }
        router.delete("/login/refreshToken") { request, _ -> Response in
            guard let token = request.uri.queryParameters.get("refreshToken") else {
                throw ServerError(.badRequest, "DELETE /login/refreshToken takes the token as ?refreshToken=….", exceptionType: "invalid-argument")
            }
            try await self.tokens.revoke(token)
            return try Response.json(.array([]))
        }
        // Not in ML Server's API: revokes the access token the request carries, so a logout ends
        // the session at once instead of when the token expires (an hour later).
        router.delete("/login/accessToken") { _, context -> Response in
            if let claims = context.token { try await self.tokens.revoke(accessToken: claims) }
            return try Response.json(.array([]))
        }
    }
}
