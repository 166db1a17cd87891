import MLDeployServer

/// Where the directory is and how its users and groups are found (`server.ldap.*` in
/// `mldeploy serve`'s configuration).
public struct LDAPSettings: Sendable, Hashable {
    /// The directory's URL: `ldap://host:389` or `ldaps://host:636`.
    public var url: String
    /// The account the server searches with (`cn=mldeploy,ou=services,dc=example,dc=org`); `nil`
    /// searches anonymously.
    public var bindDN: String?
    /// That account's password.
    public var bindPassword: String?
    /// Where users are searched (`ou=people,dc=example,dc=org`).
    public var userBase: String
    /// The filter that finds a user; `{username}` is replaced by the name given at login, escaped
    /// (RFC 4515). `(uid={username})` for OpenLDAP, `(sAMAccountName={username})` for Active Directory.
    public var userFilter = "(uid={username})"
    /// Where groups are searched; the user base's parent when `nil`.
    public var groupBase: String?
    /// The filter that finds a user's groups; `{dn}` is the user's DN, escaped.
    /// `(member={dn})` for `groupOfNames`, `(uniqueMember={dn})` for `groupOfUniqueNames`.
    public var groupFilter = "(member={dn})"
    /// The group attribute the role mapping names: `cn`.
    public var groupAttribute = "cn"
    /// Group names → roles; a user in groups of several roles gets the highest.
    public var roles: [String: ServerRole] = [:]
    /// The role of a user in no mapped group; `nil` (the default) refuses them.
    public var defaultRole: ServerRole?
    /// How long one directory operation may take.
    public var timeout = Duration.seconds(10)

    /// Settings for users under `userBase` of the directory at `url`.
    public init(url: String, userBase: String) {
        self.url = url
        self.userBase = userBase
    }
}
