import Foundation
import MLDeploy
import MLDeployHTTP
import Synchronization
import Testing

/// Records the `Authorization` header each attempt carries (user middlewares run after the auth step).
final class AuthorizationRecorder: HTTPClientMiddleware {
    let seen = Mutex<[String?]>([])

    func intercept(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
    ) async throws -> HTTPResponse {
        self.seen.withLock { $0.append(request.headers["Authorization"]) }
        return try await next(request, context)
    }
}

@Suite("Authentication middleware against a real login server")
struct AuthenticationTests {
    func login(_ server: FaultServer, _ client: HTTPClient, password: String = "secret") {
        client.authentication.use(LoginTokenSource(baseURL: URL(string: server.url(""))!, username: "admin", password: password))
    }

    func protected(_ server: FaultServer) throws -> HTTPRequest {
        try HTTPRequest(.get, server.url("/protected"))
    }

    @Test("logs in once and sends the bearer token")
    func login() async throws {
        try await FaultServer.with { server throws in
            let recorder = AuthorizationRecorder()
            try await withHTTPClient(testConfiguration(), middlewares: [recorder]) { client throws in
                self.login(server, client)
                try await client.authentication.authenticate()
                for _ in 0..<3 {
                    #expect(try await client.send(try self.protected(server)).status == 200)
                }
                let stats = try await server.stats(client)
                #expect(stats["logins"] == 1 && stats["protected_ok"] == 3)
                #expect(recorder.seen.withLock { $0 }[1...3].allSatisfy { $0 == "Bearer A1" })
                #expect(recorder.seen.withLock { $0 }.first == .some(nil), "the login itself carries no token")
            }
        }
    }

    @Test("bad credentials fail at authentication with a typed error")
    func badPassword() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                self.login(server, client, password: "wrong")
                await #expect { try await client.authentication.authenticate() } throws: { error in
                    guard let error = error as? MLDeployError else { return false }
                    return error.code == .authenticationFailed && error.httpStatus == 401 && error.message.contains("Invalid credentials")
                }
            }
        }
    }

    /// Reports the server's (hour-long) tokens as expiring in 20 s, so the client must refresh them
    /// proactively, without any waiting in the test.
    struct ExpiringSoon: TokenSource {
        let inner: LoginTokenSource
        func token(replacing expired: AccessToken?, transport: TokenTransport) async throws -> AccessToken {
            var token = try await self.inner.token(replacing: expired, transport: transport)
            token.obtainedAt = Date().addingTimeInterval(-100)
            token.expiresAt = Date().addingTimeInterval(20)
            return token
        }
    }

    @Test("refreshes proactively before the token expires")
    func proactive() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.authentication.refreshMargin = .seconds(30)
            try await withHTTPClient(configuration) { client throws in
                client.authentication.use(ExpiringSoon(inner: LoginTokenSource(baseURL: URL(string: server.url(""))!, username: "admin", password: "secret")))
                #expect(try await client.send(try self.protected(server)).status == 200)
                #expect(try await client.send(try self.protected(server)).status == 200)
                let stats = try await server.stats(client)
                #expect(stats["logins"] == 1)
                #expect(stats["refreshes"] == 1, "the second request found the token within the margin and refreshed it first")
                #expect(stats["protected_401"] == 0, "no request was refused")
            }
        }
    }

    @Test("refresh decisions follow the margin, capped at half a short token's lifetime")
    func refreshDecision() {
        let now = Date()
        let hour = AccessToken(value: "t", expiresAt: now.addingTimeInterval(3600), obtainedAt: now)
        #expect(!hour.needsRefresh(margin: .seconds(60), now: now))
        #expect(hour.needsRefresh(margin: .seconds(60), now: now.addingTimeInterval(3541)))
        let short = AccessToken(value: "t", expiresAt: now.addingTimeInterval(20), obtainedAt: now)
        #expect(!short.needsRefresh(margin: .seconds(60), now: now.addingTimeInterval(9)))
        #expect(short.needsRefresh(margin: .seconds(60), now: now.addingTimeInterval(11)))
        #expect(!AccessToken(value: "t").needsRefresh(margin: .seconds(60)), "a token without expiry is used until refused")
    }

    @Test("refreshes reactively after a 401, replays once, and the caller sees no error")
    func reactive() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                self.login(server, client)
                #expect(try await client.send(try self.protected(server)).status == 200)
                _ = try await client.send(try HTTPRequest(.post, server.url("/admin/expire-tokens")))
                #expect(try await client.send(try self.protected(server)).status == 200)
                let stats = try await server.stats(client)
                #expect(stats["refreshes"] == 1 && stats["protected_401"] == 1 && stats["protected_ok"] == 2)
            }
        }
    }

    @Test("100 concurrent requests with one expired token cause exactly one refresh")
    func singleFlight() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                self.login(server, client)
                try await client.authentication.authenticate()
                _ = try await client.send(try HTTPRequest(.post, server.url("/admin/expire-tokens")))
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<100 {
                        group.addTask { try await client.send(try HTTPRequest(.get, server.url("/protected?delay=0.05"))).status }
                    }
                    var statuses: [Int] = []
                    for try await status in group { statuses.append(status) }
                    return statuses
                }
                #expect(statuses.count == 100 && statuses.allSatisfy { $0 == 200 })
                let stats = try await server.stats(client)
                #expect(stats["refreshes"] == 1)
                #expect(stats["logins"] == 1)
            }
        }
    }

    @Test("falls back to a new login when the refresh token is refused")
    func refreshRefused() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                self.login(server, client)
                #expect(try await client.send(try self.protected(server)).status == 200)
                _ = try await client.send(try HTTPRequest(.post, server.url("/admin/expire-tokens")))
                _ = try await client.send(try HTTPRequest(.post, server.url("/admin/revoke-refresh")))
                #expect(try await client.send(try self.protected(server)).status == 200)
                let stats = try await server.stats(client)
                #expect(stats["refreshes"] == 1 && stats["logins"] == 2)
            }
        }
    }

    func aad(_ server: FaultServer, secret: String? = nil, password: String? = nil) throws -> AADTokenSource {
        try AADTokenSource(options: AADOptions(
            authority: server.url("") + "/", tenant: "contoso", clientID: "app", resource: "api",
            username: password == nil ? nil : "alice", password: password, clientSecret: secret
        ))
    }

    @Test("AAD: client-credentials and password grants get tokens; a refused grant is an authentication error")
    func aadGrants() async throws {
        try await FaultServer.with { server throws in
            for source in [try self.aad(server, secret: "secret"), try self.aad(server, password: "secret")] {
                try await withHTTPClient(testConfiguration()) { client throws in
                    client.authentication.use(source)
                    #expect(try await client.send(try self.protected(server)).status == 200)
                }
            }
            try await withHTTPClient(testConfiguration()) { client throws in
                #expect(try self.aad(server, secret: "x").tokenURL.absoluteString == server.url("/contoso/oauth2/token"))
                client.authentication.use(try self.aad(server, secret: "wrong"))
                await #expect { try await client.authentication.authenticate() } throws: {
                    ($0 as? MLDeployError)?.code == .authenticationFailed && "\($0)".contains("AADSTS70002")
                }
                let stats = try await server.stats(client)
                #expect(stats["aad_grants"] == 3)
            }
        }
    }

    @Test("AAD: an expired token is renewed with AAD's refresh token")
    func aadRefresh() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                client.authentication.use(try self.aad(server, secret: "secret"))
                #expect(try await client.send(try self.protected(server)).status == 200)
                _ = try await client.send(try HTTPRequest(.post, server.url("/admin/expire-tokens")))
                #expect(try await client.send(try self.protected(server)).status == 200)
                let stats = try await server.stats(client)
                #expect(stats["aad_grants"] == 1 && stats["aad_refreshes"] == 1)
            }
        }
    }

    @Test("AAD options without a secret or a password, or with a bad authority, are refused up front", arguments: [
        AADOptions(authority: "https://login.windows.net", tenant: "t", clientID: "c", resource: "r"),
        AADOptions(authority: "https://login.windows.net", tenant: "t", clientID: "c", resource: "r", username: "u"),
        AADOptions(authority: "login.windows.net", tenant: "t", clientID: "c", resource: "r", clientSecret: "s"),
        AADOptions(authority: "https://login.windows.net", tenant: "", clientID: "c", resource: "r", clientSecret: "s"),
    ])
    func aadOptions(_ options: AADOptions) {
        #expect { try AADTokenSource(options: options) } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
    }

    @Test("a fixed token that is refused fails once with an authentication error, never a loop")
    func staticToken() async throws {
        try await FaultServer.with { server throws in
            let counter = AttemptCounter()
            try await withHTTPClient(testConfiguration(), middlewares: [counter]) { client throws in
                client.authentication.use(StaticTokenSource("not-a-token"))
                await #expect { try await client.send(try self.protected(server)) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
                #expect(counter.count == 1)
            }
        }
    }

    @Test("a token still refused after a refresh is an authentication error")
    func refusedAfterRefresh() async throws {
        try await FaultServer.with { server throws in
            let counter = AttemptCounter()
            try await withHTTPClient(testConfiguration(), middlewares: [counter]) { client throws in
                self.login(server, client)
                // /status/401 refuses every token.
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/status/401"))) } throws: { error in
                    (error as? MLDeployError)?.code == .authenticationFailed && (error as? MLDeployError)?.httpStatus == 401
                }
                #expect(counter.count == 4, "login, the request, the refresh, the replay")
            }
        }
    }

    @Test("the scheme is configurable, including none")
    func scheme() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.authentication.scheme = nil
            try await withHTTPClient(configuration) { client throws in
                client.authentication.use(StaticTokenSource("raw-token"))
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).json["headers"]?["authorization"] == "raw-token")
                var anonymous = try HTTPRequest(.get, server.url("/echo"))
                anonymous.options.authenticate = false
                #expect(try await client.send(anonymous).json["headers"]?["authorization"] == nil)
            }
        }
    }

    @Test("reads ML Server's token response in its number and string forms")
    func tokenResponse() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let numbers = try AccessToken(accessTokenResponse: ["access_token": "a", "expires_on": 1_479_664_807, "refresh_token": "r"], now: now)
        #expect(numbers.expiresAt == Date(timeIntervalSince1970: 1_479_664_807) && numbers.refreshToken == "r")
        let strings = try AccessToken(accessTokenResponse: ["access_token": "a", "expires_in": "3600"], now: now)
        #expect(strings.expiresAt == now.addingTimeInterval(3600))
        #expect(!String(describing: numbers).contains("a,") && !"\(numbers)".contains("\"a\""))
        #expect { try AccessToken(accessTokenResponse: ["token": "x"]) } throws: { ($0 as? MLDeployError)?.code == .invalidResponse }
    }
}
