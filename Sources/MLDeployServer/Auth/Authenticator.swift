/// A way besides the server's own users to say who sends a request: an identity provider's
/// bearer tokens (``OIDCAuthenticator``), a directory's user names and passwords
/// (`LDAPAuthenticator` in `MLDeployLDAP`), a platform's own sign-in. The server's local
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
    ///   does not hold (the message says why); ``MLDeploy/MLDeployError/Code/unreachable`` when what
    ///   it needs to check the token (an identity provider's keys) cannot be had just now.
    func authenticate(bearer token: String) async throws -> AuthenticatedUser?

    /// Who a user name and password sign in (`POST /login`, after the local users), or `nil`
    /// when this authenticator does not know the user or the password does not hold. The server
    /// then issues its own tokens, which carry the role this returns until they expire; they are
    /// not refreshed (`POST /login/refreshToken` asks the user to log in again), so a change in
    /// the directory applies at the next login.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/authenticationFailed`` for a user it knows who may
    ///   not sign in (no role); ``MLDeploy/MLDeployError/Code/unreachable`` when the directory
    ///   cannot be reached.
    func login(username: String, password: String) async throws -> AuthenticatedUser?
}

extension Authenticator {
    /// Bearer tokens are not this authenticator's kind: `nil`.
    public func authenticate(bearer token: String) async throws -> AuthenticatedUser? { nil }

    /// Passwords are not this authenticator's kind: `nil`.
    public func login(username: String, password: String) async throws -> AuthenticatedUser? { nil }
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

    /// The account id the server's tokens carry for this user (`@<authenticator>:<role>`): no
    /// local account has it, so the token is recognised as an authenticator's user and their role
    /// read from it.
    var accountID: String { "@\(self.authenticator):\(self.role.rawValue)" }

    /// The user an account id of ``accountID``'s form names, or `nil` for a local account's id.
    init?(user: String, accountID: String) {
        guard accountID.hasPrefix("@"), let colon = accountID.lastIndex(of: ":"),
              let role = ServerRole(rawValue: String(accountID[accountID.index(after: colon)...])) else { return nil }
        self.init(name: user, role: role, authenticator: String(accountID[accountID.index(after: accountID.startIndex)..<colon]))
    }
}
