import MLDeployConfiguration
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

    /// The OIDC settings of `server.oidc.*`, for an ``OIDCAuthenticator``.
    static func oidcSettings(_ oidc: DeployConfiguration.ServerSettings.OIDC) -> OIDCSettings {
        var settings = OIDCSettings(issuer: oidc.issuer, audience: oidc.audience)
        settings.roleClaim = oidc.roleClaim
        settings.userClaim = oidc.userClaim
        // Lowest first, so a value listed under several roles gets the highest.
        for role in ServerRole.allCases.reversed() {
            for value in oidc.roles[role.rawValue] ?? [] { settings.roles[value] = role }
        }
        settings.defaultRole = oidc.defaultRole.flatMap(ServerRole.init(spelling:))
        return settings
    }
}
