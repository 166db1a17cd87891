/// A way besides the server's own tokens to say who sends a request: an identity provider's
/// bearer tokens (``OIDCAuthenticator``), a directory, a platform's own sign-in. The server's local
/// users and the tokens it issues always come first; a bearer token that is not one of those is
/// offered to each authenticator in turn.
///
/// An authenticator answers `nil` for a token that is not its kind (another issuer's), so several
/// can be installed at once; for a token of its kind that does not hold (expired, wrong audience,
/// forged signature, no role) it throws an ``MLDeploy/MLDeployError`` saying why, which the
/// client gets with the 401.
public protocol Authenticator: Sendable {
    /// A short name for logs and errors (`oidc`).
    var name: String { get }

    /// Who `token` (the `Authorization: Bearer` value) signs in, or `nil` when it is not a token
    /// this authenticator knows.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/authenticationFailed`` for a token of its kind that
    ///   does not hold (the message says why); ``MLDeploy/MLDeployError/Code/unavailable`` when what
    ///   it needs to check the token (an identity provider's keys) cannot be had just now.
    func authenticate(bearer token: String) async throws -> AuthenticatedUser?
}

/// A user an ``Authenticator`` signed in: the name the server knows them by (owner of what they
/// publish, holder of their sessions) and the role their claims map to.
public struct AuthenticatedUser: Sendable, Hashable {
    /// The user's name.
    public var name: String
    /// What they may do.
    public var role: ServerRole
    /// The authenticator that signed them in (its ``Authenticator/name``).
    public var authenticator: String

    /// Creates a signed-in user.
    public init(name: String, role: ServerRole, authenticator: String) {
        self.name = name
        self.role = role
        self.authenticator = authenticator
    }
}
