import Foundation
import Logging
import MLDeploy
import MLDeployHTTP

/// A backend that speaks the ML Server 9.x operationalization REST API — to a real
/// Microsoft Machine Learning Server, or to `mldeploy serve` — through ``MLDeployHTTP/HTTPClient``
/// and its middleware chain (authentication with refresh, retries, proxies, timeouts).
///
/// Target it by name and host, or by URI:
///
/// ```swift
/// let client = try await DeployClient(target: .named("MLServer", host: "http://localhost:12800"),
///                                     auth: .password(username: "admin", password: secret))
/// let same = try await DeployClient(target: "mlserver+http://localhost:12800", auth: …)
/// ```
///
/// It publishes Python services the way the Python SDK does (session → workspace objects →
/// snapshot → publish → clean-up), realtime models as a multipart form, and returns every answer as
/// the core API's typed values. `docs/mlserver-backend.md` lists where it deliberately differs from
/// the SDK.
public final class MLServerBackend: ConfigurableBackend {
    /// What it supports: Python services (code runs on the server), realtime models, batch with
    /// artifacts, swagger. Swift handlers run in-process and cannot be sent to a server.
    public var capabilities: BackendCapabilities { [.pythonServices, .realtime, .batch, .batchArtifacts, .swagger] }

    /// The server's base URL, e.g. `http://localhost:12800` (no trailing slash).
    public let baseURL: String
    let state = BackendState()

    /// Creates a backend for the server the configuration names: the URI
    /// (`mlserver+http://host:port[/prefix]`, `mlserver+https://…`) or the host (`http://host:port`;
    /// a bare `host:port` means `http`).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` when neither is given or the address
    ///   is not an http(s) URL.
    public init(configuration: BackendConfiguration) throws {
        self.baseURL = try Self.baseURL(of: configuration)
    }

    /// Creates a backend for the server at `baseURL` (`http://host:port`).
    public convenience init(baseURL: String) throws {
        try self.init(configuration: BackendConfiguration(backendName: "MLServer", host: baseURL))
    }

    /// The base URL a configuration names (see ``init(configuration:)``), e.g. `http://localhost:12800`.
    public static func baseURL(of configuration: BackendConfiguration) throws -> String {
        try configuration.httpBaseURL(schemePrefix: "mlserver", backend: "MLServer", example: "localhost:12800")
    }

    // MARK: Lifecycle

    /// Takes the HTTP client its registration's provider prepared — or, for an instance handed to a
    /// client directly (`DeployTarget.backend(MLServerBackend(…))`), makes one with the default
    /// configuration and shuts it down with the backend.
    public func initialize(context: BackendContext) async throws {
        if let http = context[HTTPClientKey.self] {
            self.state.set(http: http, owned: false, logger: context.logger)
        } else {
            var logger = context.logger
            logger[metadataKey: "component"] = "http"
            self.state.set(http: HTTPClient(logger: logger), owned: true, logger: context.logger)
        }
    }

    /// Authenticates every later request:
    /// - a username and password: `POST /login`, refreshed through `/login/refreshToken` before expiry
    ///   and on a 401 (logging in again when the refresh token is refused);
    /// - an access token: sent as is;
    /// - AAD options: a token from AAD's token endpoint (``MLDeployHTTP/AADTokenSource``).
    ///
    /// Credentials that resume a session (``MLDeploy/AuthContext/resuming(_:)``) start from its
    /// token instead of logging in, and refresh it with its refresh token; a password is then used
    /// only when the server refuses both.
    ///
    /// Bad credentials fail here, with ``MLDeploy/MLDeployError/Code/authenticationFailed``.
    public func authenticate(_ credentials: AuthContext) async throws {
        let http = try self.state.http
        guard let base = URL(string: self.baseURL) else { return }
        let resumed = credentials.session.map { AccessToken(value: $0.accessToken, expiresAt: $0.expiresAt, refreshToken: $0.refreshToken) }
        if let (username, password) = credentials.passwordCredentials {
            http.authentication.use(LoginTokenSource(baseURL: base, username: username, password: password), initial: resumed)
        } else if let token = credentials.accessToken {
            if let session = credentials.session, session.refreshToken != nil, let resumed {
                http.authentication.use(LoginTokenSource(baseURL: base, username: session.username ?? "?", password: nil), initial: resumed)
            } else {
                http.authentication.use(StaticTokenSource(token))
            }
        } else if let options = credentials.aadOptions {
            http.authentication.use(try AADTokenSource(options: options))
        } else {
            throw MLDeployError(code: .authenticationFailed, message: "The MLServer backend does not know the credentials \(credentials).")
        }
        // A refresh token obtained by logging in here is this backend's own: it is revoked at
        // shutdown, so a short-lived client (one CLI command) leaves no 14-day token behind. A
        // resumed session's belongs to whoever cached it.
        self.state.setOwnsLogin(credentials.passwordCredentials != nil && credentials.session == nil)
        _ = try await http.authentication.authenticate()
    }

    /// The session held now — the access token, its refresh token and expiry — for a tool that
    /// caches it between runs; `nil` before authentication or without a token source.
    public var session: AuthSession? {
        guard let token = (try? self.state.http)?.authentication.currentToken else { return nil }
        return AuthSession(accessToken: token.value, refreshToken: token.refreshToken, expiresAt: token.expiresAt)
    }

    /// Revokes a refresh token on the server (`DELETE /login/refreshToken?refreshToken=…`): the
    /// session it renews ends when its current access token expires.
    public func revoke(refreshToken: String) async throws {
        let encoded = refreshToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? refreshToken
        try await self.send(.delete, "/login/refreshToken", query: "refreshToken=" + encoded, idempotent: true)
    }

    /// Revokes the refresh token the backend obtained by logging in itself (best effort: a server
    /// that is gone cannot be told), forgets the credentials, and shuts down an HTTP client it made
    /// itself (a provider's client is shut down by the provider).
    public func shutdown() async throws {
        guard let http = try? self.state.http else { return }
        if self.state.takeOwnsLogin(), let refreshToken = http.authentication.currentToken?.refreshToken {
            do {
                try await self.revoke(refreshToken: refreshToken)
            } catch {
                self.state.logger.debug("could not revoke the refresh token at shutdown", metadata: ["error": "\(error)"])
            }
        }
        http.authentication.clear()
        if self.state.ownsHTTP { await http.shutdown() }
    }
}
