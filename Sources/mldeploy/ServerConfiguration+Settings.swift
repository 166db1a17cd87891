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
}
