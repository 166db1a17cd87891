import Foundation

/// The credentials a ``DeployClient`` authenticates with — the Python SDK's `auth` argument.
///
/// | Python `auth`            | Swift                                        |
/// |--------------------------|----------------------------------------------|
/// | `(username, password)`   | ``password(username:password:)`` (`POST /login`) |
/// | a dict of AAD options    | ``azureActiveDirectory(_:)``                   |
/// | any other value          | ``accessToken(_:)`` (used as the bearer token) |
///
/// A struct with accessors rather than a public enum, so further credential kinds can be added
/// without breaking backends that inspect it. Backends read the accessor for each kind they support
/// and fail with ``MLDeployError/Code/authenticationFailed`` otherwise.
///
/// Printing an `AuthContext` never shows a password, secret or token.
public struct AuthContext: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case password(username: String, password: String)
        case token(String)
        case aad(AADOptions)
    }

    private let kind: Kind

    /// A session obtained earlier with these credentials — typically cached by a tool between runs
    /// (`mldeploy login`) — that a backend should start from instead of logging in again. `nil` for
    /// fresh credentials. Set it with ``resuming(_:)``.
    public private(set) var session: AuthSession?

    /// These credentials, starting from `session`: a backend uses its access token while it is
    /// valid, refreshes it with its refresh token, and only then falls back to the credentials
    /// themselves (for a password, a new login). A session alone, without a password, is
    /// ``accessToken(_:)`` credentials resumed from it.
    public func resuming(_ session: AuthSession) -> AuthContext {
        var copy = self
        copy.session = session
        return copy
    }

    /// Username and password, exchanged for a token with `POST /login` (ML Server's LDAP/local login).
    public static func password(username: String, password: String) -> AuthContext {
        AuthContext(kind: .password(username: username, password: password))
    }

    /// An existing access token, sent as `Authorization: Bearer <token>`.
    public static func accessToken(_ token: String) -> AuthContext {
        AuthContext(kind: .token(token))
    }

    /// Azure Active Directory options, as the Python SDK's AAD `auth` dictionary carries them.
    public static func azureActiveDirectory(_ options: AADOptions) -> AuthContext {
        AuthContext(kind: .aad(options))
    }

    /// The username and password, for ``password(username:password:)`` credentials.
    public var passwordCredentials: (username: String, password: String)? {
        if case .password(let username, let password) = self.kind { return (username, password) }
        return nil
    }

    /// The token, for ``accessToken(_:)`` credentials.
    public var accessToken: String? {
        if case .token(let token) = self.kind { return token }
        return nil
    }

    /// The options, for ``azureActiveDirectory(_:)`` credentials.
    public var aadOptions: AADOptions? {
        if case .aad(let options) = self.kind { return options }
        return nil
    }

    /// The kind of credentials and the non-secret parts: `password(user: admin)`, `accessToken(…)`.
    public var description: String {
        switch self.kind {
        case .password(let username, _): return "password(user: \(username))"
        case .token: return "accessToken(…)"
        case .aad(let options): return "azureActiveDirectory(\(options))"
        }
    }
}

/// What a login produced: the access token, the refresh token that renews it, and when the access
/// token expires — what a tool caches so its next run needs neither a password nor a new login.
///
/// Printing a session never shows a token.
public struct AuthSession: Sendable, Hashable, CustomStringConvertible {
    /// The bearer token.
    public var accessToken: String
    /// The token that obtains a new access token (ML Server: `POST /login/refreshToken`), if any.
    public var refreshToken: String?
    /// When ``accessToken`` expires, if known.
    public var expiresAt: Date?
    /// The user the session belongs to, if known.
    public var username: String?

    /// Creates a session.
    public init(accessToken: String, refreshToken: String? = nil, expiresAt: Date? = nil, username: String? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.username = username
    }

    /// `AuthSession(user: …, expires: …, refreshable: …)`, without the tokens.
    public var description: String {
        "AuthSession(user: \(self.username ?? "?"), expires: \(self.expiresAt.map { "\($0)" } ?? "never"), refreshable: \(self.refreshToken != nil))"
    }
}

/// Azure Active Directory options: the Python SDK's AAD `auth` dictionary
/// (`authuri`, `tenant`, `clientid`, `resource`, optional `username` and `password`).
public struct AADOptions: Sendable, Hashable, CustomStringConvertible {
    /// The authority host, e.g. `https://login.windows.net` (`authuri`).
    public var authority: String
    /// The tenant (`tenant`).
    public var tenant: String
    /// The application (client) id (`clientid`).
    public var clientID: String
    /// The resource / audience (`resource`).
    public var resource: String
    /// A username, for the username/password grant.
    public var username: String?
    /// A password, for the username/password grant.
    public var password: String?
    /// A client secret, for the client-credentials grant.
    public var clientSecret: String?

    /// Creates options.
    public init(
        authority: String,
        tenant: String,
        clientID: String,
        resource: String,
        username: String? = nil,
        password: String? = nil,
        clientSecret: String? = nil
    ) {
        self.authority = authority
        self.tenant = tenant
        self.clientID = clientID
        self.resource = resource
        self.username = username
        self.password = password
        self.clientSecret = clientSecret
    }

    /// Reads the Python SDK's dictionary keys: `authuri`, `tenant`, `clientid`, `resource` (required),
    /// `username`, `password`, `client_secret` (optional).
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArgument``) naming a missing required
    ///   key, or a username without a password.
    public init(dictionary: [String: String]) throws {
        func required(_ key: String) throws -> String {
            guard let value = dictionary[key], !value.isEmpty else {
                throw MLDeployError.invalidArgument(
                    "AAD options need '\(key)'. Required keys: authuri, tenant, clientid, resource; optional: username, password, client_secret."
                )
            }
            return value
        }
        self.init(
            authority: try required("authuri"),
            tenant: try required("tenant"),
            clientID: try required("clientid"),
            resource: try required("resource"),
            username: dictionary["username"],
            password: dictionary["password"],
            clientSecret: dictionary["client_secret"]
        )
        if self.username != nil, self.password == nil {
            throw MLDeployError.invalidArgument("AAD options have a 'username' but no 'password'.")
        }
    }

    /// The non-secret parts.
    public var description: String {
        "authority: \(self.authority), tenant: \(self.tenant), clientID: \(self.clientID), resource: \(self.resource)"
            + (self.username.map { ", user: \($0)" } ?? "")
    }
}
