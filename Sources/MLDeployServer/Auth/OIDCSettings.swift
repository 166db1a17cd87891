/// What ``OIDCAuthenticator`` accepts: tokens one identity provider issued for this server, and
/// how their claims name the user and map to roles (`server.oidc.*` in `mldeploy serve`'s
/// configuration).
public struct OIDCSettings: Sendable, Hashable {
    /// The provider's issuer, exactly as its tokens' `iss` and its discovery document spell it
    /// (Entra ID: `https://login.microsoftonline.com/<tenant>/v2.0`).
    public var issuer: String
    /// The audience tokens must name (`aud`): the server's application (client) id or URI.
    public var audience: String
    /// The claim whose values map to roles: `roles` (app roles, the default) or `groups`.
    public var roleClaim = "roles"
    /// The claim that names the user; `sub` when a token lacks it.
    public var userClaim = "preferred_username"
    /// Claim values → roles; a user with values of several roles gets the highest.
    public var roles: [String: ServerRole] = [:]
    /// The role of a signed-in user whose claim maps to none; `nil` (the default) refuses them.
    public var defaultRole: ServerRole?
    /// How old the keys may get before they are fetched again anyway.
    public var keyRefreshInterval = Duration.seconds(3600)
    /// The shortest time between fetches caused by a token naming a key id the keys lack.
    public var minimumRefreshInterval = Duration.seconds(10)
    /// Clock skew allowed when checking expiry and not-before.
    public var leeway = Duration.seconds(60)

    /// Settings for tokens `issuer` issued for `audience`.
    public init(issuer: String, audience: String) {
        self.issuer = issuer
        self.audience = audience
    }
}
