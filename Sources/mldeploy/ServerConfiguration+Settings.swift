import MLDeployConfiguration
import MLDeployLDAP
import MLDeployServer

extension ServerConfiguration {
    /// Takes the limits and quotas of the configuration's `server.*` settings (body sizes, timeouts,
    /// connections, per-user sessions, bytes and calls).
    mutating func apply(limitsOf settings: DeployConfiguration.ServerSettings) {
        self.maximumJSONBodySize = settings.maximumJSONBodySize
        self.maximumUploadSize = settings.maximumUploadSize
        self.idleTimeout = settings.idleTimeout
        self.bodyReadTimeout = settings.bodyReadTimeout
        self.maximumConnections = settings.maximumConnections
        self.maximumSessionsPerUser = settings.maximumSessionsPerUser
        self.userStorageQuota = settings.userStorageQuota
        self.maximumCallsPerUser = settings.maximumCallsPerUser
        self.metricsAccess = MetricsAccess(rawValue: settings.metrics) ?? .public
        self.metricsPort = settings.metricsPort
    }

    /// The authenticators `server.oidc.*` and `server.ldap.*` configure, in that order.
    static func authenticators(_ settings: DeployConfiguration.ServerSettings) throws -> [any Authenticator] {
        var authenticators: [any Authenticator] = []
        if let oidc = settings.oidc { authenticators.append(try OIDCAuthenticator(settings: Self.oidcSettings(oidc))) }
        if let ldap = settings.ldap { authenticators.append(try LDAPAuthenticator(settings: Self.ldapSettings(ldap))) }
        return authenticators
    }

    /// The directory settings of `server.ldap.*`, for an `LDAPAuthenticator`.
    static func ldapSettings(_ ldap: DeployConfiguration.ServerSettings.LDAP) -> LDAPSettings {
        var settings = LDAPSettings(url: ldap.url, userBase: ldap.userBase)
        settings.bindDN = ldap.bindDN
        settings.bindPassword = ldap.bindPassword
        if let filter = ldap.userFilter { settings.userFilter = filter }
        settings.groupBase = ldap.groupBase
        if let filter = ldap.groupFilter { settings.groupFilter = filter }
        settings.roles = Self.roleMap(ldap.roles)
        settings.defaultRole = ldap.defaultRole.flatMap(ServerRole.init(spelling:))
        return settings
    }

    /// Values per role name → role per value; a value listed under several roles gets the highest.
    private static func roleMap(_ lists: [String: [String]]) -> [String: ServerRole] {
        var map: [String: ServerRole] = [:]
        for role in ServerRole.allCases.reversed() {
            for value in lists[role.rawValue] ?? [] { map[value] = role }
        }
        return map
    }

    /// The OIDC settings of `server.oidc.*`, for an ``OIDCAuthenticator``.
    static func oidcSettings(_ oidc: DeployConfiguration.ServerSettings.OIDC) -> OIDCSettings {
        var settings = OIDCSettings(issuer: oidc.issuer, audience: oidc.audience)
        settings.roleClaim = oidc.roleClaim
        settings.userClaim = oidc.userClaim
        settings.roles = Self.roleMap(oidc.roles)
        settings.defaultRole = oidc.defaultRole.flatMap(ServerRole.init(spelling:))
        return settings
    }
}
