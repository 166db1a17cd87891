import Foundation
import Logging
import MLDeploy
import Synchronization

/// The credentials of an ``HTTPClient``: a token source and the token it last gave.
///
/// Install a source to turn authentication on:
///
/// ```swift
/// client.authentication.use(LoginTokenSource(baseURL: url, username: "admin", password: secret))
/// try await client.authentication.authenticate()   // log in now, so bad credentials fail here
/// ```
///
/// Tokens are refreshed **proactively**, when they are within the configured margin of their expiry
/// (or half their lifetime, for tokens shorter-lived than twice the margin),
/// and **reactively**, once, when the server answers 401 — after which the request is replayed once.
/// Concurrent requests share one refresh (single flight): a hundred requests that find the token
/// expired cause one refresh, not a hundred.
public final class HTTPAuthentication: Sendable {
    private struct State {
        var source: (any TokenSource)?
        var current: AccessToken?
        var refreshing: Task<AccessToken, any Error>?
        var refreshes = 0
        var transport: TokenTransport?
    }

    /// How tokens are sent and when they are refreshed.
    public let settings: HTTPClient.AuthenticationSettings
    private let state = Mutex(State())

    init(settings: HTTPClient.AuthenticationSettings) {
        self.settings = settings
    }

    func attach(_ transport: TokenTransport) {
        self.state.withLock { $0.transport = transport }
    }

    /// Uses `source` for every request from now on, starting from `initial` if given.
    public func use(_ source: any TokenSource, initial: AccessToken? = nil) {
        self.state.withLock { state in
            state.source = source
            state.current = initial
            state.refreshing?.cancel()
            state.refreshing = nil
        }
    }

    /// Stops authenticating requests and forgets the token.
    public func clear() {
        self.state.withLock { state in
            state.source = nil
            state.current = nil
            state.refreshing?.cancel()
            state.refreshing = nil
        }
    }

    /// The token held now (the last one the source gave, or the initial one), if any.
    public var currentToken: AccessToken? {
        self.state.withLock { $0.current }
    }

    /// How many tokens the source has produced (logins and refreshes).
    public var tokenFetches: Int {
        self.state.withLock { $0.refreshes }
    }

    /// Obtains a token now unless a valid one is held, so that bad credentials fail here rather than
    /// at the first request.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/authenticationFailed``.
    @discardableResult
    public func authenticate() async throws -> AccessToken? {
        try await self.validToken()
    }

    /// The token to send now: the current one, or a fresh one if it is missing or about to expire.
    /// `nil` when no source is installed.
    nonisolated(nonsending) func validToken() async throws -> AccessToken? {
        enum Decision { case none, use(AccessToken), wait(Task<AccessToken, any Error>) }
        let decision: Decision = self.state.withLock { state in
            guard state.source != nil else { return .none }
            if let current = state.current, !current.needsRefresh(margin: self.settings.refreshMargin) {
                return .use(current)
            }
            return .wait(self.startRefresh(&state, replacing: state.current))
        }
        switch decision {
        case .none: return nil
        case .use(let token): return token
        case .wait(let task): return try await self.value(of: task)
        }
    }

    /// A replacement for `rejected`, which the server refused: shared with every concurrent request
    /// that was refused the same token.
    func refresh(rejected: AccessToken) async throws -> AccessToken {
        enum Decision { case use(AccessToken), wait(Task<AccessToken, any Error>) }
        let decision: Decision = self.state.withLock { state in
            if let current = state.current, current.value != rejected.value {
                return .use(current)  // already replaced by someone else
            }
            return .wait(self.startRefresh(&state, replacing: rejected))
        }
        switch decision {
        case .use(let token): return token
        case .wait(let task): return try await self.value(of: task)
        }
    }

    /// Joins the refresh in flight, or starts one. Called under the lock.
    private func startRefresh(_ state: inout State, replacing expired: AccessToken?) -> Task<AccessToken, any Error> {
        if let running = state.refreshing { return running }
        let source = state.source!
        let transport = state.transport ?? TokenTransport { _ in
            throw MLDeployError(code: .authenticationFailed, message: "The HTTP client is gone.")
        }
        let task = Task<AccessToken, any Error> {
            do {
                let token = try await source.token(replacing: expired, transport: transport)
                self.state.withLock { state in
                    state.current = token
                    state.refreshing = nil
                    state.refreshes += 1
                }
                return token
            } catch {
                self.state.withLock { $0.refreshing = nil }
                throw error
            }
        }
        state.refreshing = task
        return task
    }

    private func value(of task: Task<AccessToken, any Error>) async throws -> AccessToken {
        do {
            return try await task.value
        } catch let error as MLDeployError {
            // Its code already says what failed: a refused login, an unreachable server, an answer
            // from something that is not the token endpoint. Wrapping all of those as
            // authentication failures sent people to check passwords when the server was down.
            throw error
        } catch {
            throw MLDeployError(code: .authenticationFailed, message: "Obtaining an access token failed: \(error)", underlying: error)
        }
    }

    /// The `Authorization` header value for `token`.
    func authorization(_ token: AccessToken) -> String {
        self.settings.scheme.map { "\($0) \(token.value)" } ?? token.value
    }
}

/// The first step of the chain: attaches the token, refreshes it, replays once after a 401.
struct AuthenticationMiddleware: Sendable {
    let authentication: HTTPAuthentication

    nonisolated(nonsending) func run(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: BuiltInStepNext
    ) async throws -> HTTPResponse {
        guard request.options.authenticate, let token = try await self.authentication.validToken() else {
            return try await next(request, context)
        }
        var authorized = request
        authorized.headers["Authorization"] = self.authentication.authorization(token)
        let response = try await next(authorized, context)
        guard response.status == 401, request.isReplayable else { return response }

        context.logger.debug("401 with a token; refreshing it and replaying the request once")
        let fresh = try await self.authentication.refresh(rejected: token)
        authorized.headers["Authorization"] = self.authentication.authorization(fresh)
        let replayed = try await next(authorized, context)
        guard replayed.status == 401 else { return replayed }
        throw MLDeployError(
            code: .authenticationFailed,
            message: "The server refused the access token even after refreshing it (\(request.method) \(CurlFailure.describe(request.url))). Check the account's permissions and credentials.",
            httpStatus: 401,
            responseBody: replayed.body.bufferedBytes.map { String(decoding: $0, as: UTF8.self) }
        )
    }
}
