import Foundation
import Logging
import MLDeploy
import MLDeployHTTP
import MLDeployPlugin
import ServiceRuntime

/// One configuration model for the library, the CLI and the server: the deployment target, the
/// credentials, HTTP behaviour, the local Python runtime and the server's own settings.
///
/// Load it from flags, the environment, a config file and its profiles
/// (``load(flags:environment:configFile:profile:currentDirectory:home:)``), then build a client
/// from it — so switching targets is a configuration change, not a code change:
///
/// ```swift
/// let configuration = try await DeployConfiguration.load(profile: "prod")
/// let client = try await configuration.makeClient()
/// ```
///
/// A config file (YAML, or JSON):
///
/// ```yaml
/// target: file:./services
/// profiles:
///   prod:
///     target: mlserver+https://ml.example.com:12800
///     auth:
///       username: deployer
///       password_file: /run/secrets/ml-password
///     http:
///       timeout: { consume: 30 }
/// ```
public struct DeployConfiguration: Sendable {
    /// The target as written (`file:./services`, `MLServer`), or `nil` for the default.
    public var target: String?
    /// Options for the target's backend (`target_options`), added to the target's own; a URI's
    /// query string still wins over them.
    public var targetOptions: [String: String] = [:]
    /// The operation middleware a client runs every backend operation through, by name and in
    /// order (the first outermost): `tracing`, `metrics`, `logging`; `nil` for the default
    /// (``MLDeploy/DeployClient/defaultMiddleware``), empty for none; `middleware`.
    public var middleware: [String]?
    /// The server address for a named target.
    public var host: String?
    /// The credentials, or `nil` when none are configured.
    public var auth: AuthContext?
    /// The user `auth.username` names when no password is configured. Such a configuration is
    /// complete only with a session a tool cached for that user (`mldeploy login`) set as ``auth``;
    /// ``makeClient(registry:logger:)`` refuses it otherwise.
    public var usernameWithoutPassword: String?
    /// HTTP behaviour for HTTP backends.
    public var http = HTTPClient.Configuration()
    /// The local Python runtime, for backends that run Python here.
    public var python = PythonRuntime.Configuration()
    /// Adaptive batching of realtime calls for the local backends (``ServiceRuntime/RealtimeBatching``),
    /// as the `realtime.batching` option spells it; `nil`: off.
    public var realtimeBatching: String?
    /// The server's own settings (`mldeploy serve`).
    public var server = ServerSettings()
    /// Where backend plugins are found and how long they may take (`plugins.*`).
    public var plugins = PluginSettings()
    /// Where each set value came from, by key (`config show` prints it).
    public var sources: [String: String] = [:]
    /// The config file read, if any.
    public var file: String?
    /// The profile selected, if any.
    public var profile: String?
    /// Keys in the config file that no setting reads (see ``ConfigurationSources/unknownKeys``).
    public var unknownKeys: [String] = []

    /// `mldeploy serve`'s settings.
    public struct ServerSettings: Sendable, Hashable {
        /// The address to listen on.
        public var host = "127.0.0.1"
        /// The port (0 picks a free one).
        public var port = 12800
        /// Where users, keys and the default store live.
        public var dataDirectory = "./mldeploy-data"
        /// The backend served, or `nil` for a filesystem store in the data directory.
        public var backend: String?
        /// Where the server keeps its state when it is not the data directory: a `postgresql://`
        /// URI shared by every node (`server.database`, `--database`); `nil` means the data
        /// directory, or the served backend's database when that is PostgreSQL.
        public var database: String?
        /// The largest JSON request body (bytes); `server.max_json_mb`.
        public var maximumJSONBodySize = 16 << 20
        /// The largest upload (bytes); `server.max_upload_mb`.
        public var maximumUploadSize = 1 << 30
        /// How long a connection may idle (or take to send its headers); `server.idle_timeout`.
        public var idleTimeout = Duration.seconds(30)
        /// How long a body may take, plus 1 s per 16 KiB received; `server.body_timeout`.
        public var bodyReadTimeout = Duration.seconds(30)
        /// Connections served at once; `server.max_connections`.
        public var maximumConnections = 512
        /// Sessions one user may have open; `server.max_sessions`.
        public var maximumSessionsPerUser = 16
        /// Bytes one user's sessions and snapshots may hold; `server.user_quota_mb`.
        public var userStorageQuota = 2 << 30
        /// Calls one user may have in flight; `server.max_calls_per_user`.
        public var maximumCallsPerUser = 64
        /// Who may read `GET /metrics`: `public` (the default), `token` or `off`; `server.metrics`.
        public var metrics = "public"
        /// A port of its own for `GET /metrics` (then the API's port does not serve it), or `nil`;
        /// `server.metrics_port`.
        public var metricsPort: Int?
        /// Which threads run the server's Swift tasks: `pool` (the default, Swift's global pool) or
        /// `event_loops` (NIO's event loop threads, which also read and write the connections:
        /// one thread per request instead of two hops between them); `server.executor`.
        public var executor = "pool"
        /// How `mldeploy serve` writes its log: `text` (the default) or `json` (one object per
        /// line); `server.log_format`.
        public var logFormat = "text"
        /// The OpenID Connect provider whose bearer tokens the server accepts (`server.oidc.*`), or
        /// `nil` for local users only.
        public var oidc: OIDC?

        /// The directory whose users sign in at `POST /login` (`server.ldap.*`), or `nil`.
        public var ldap: LDAP?

        /// `server.ldap.*`: a directory's users, and how their groups map to roles.
        public struct LDAP: Sendable, Hashable {
            /// `server.ldap.url`.
            public var url: String
            /// `server.ldap.user_base`.
            public var userBase: String
            /// `server.ldap.bind_dn`.
            public var bindDN: String?
            /// `server.ldap.bind_password`.
            public var bindPassword: String?
            /// `server.ldap.user_filter`.
            public var userFilter: String?
            /// `server.ldap.group_base`.
            public var groupBase: String?
            /// `server.ldap.group_filter`.
            public var groupFilter: String?
            /// Group names per role name (`Owner`, `Contributor`, `Reader`).
            public var roles: [String: [String]] = [:]
            /// `server.ldap.default_role`.
            public var defaultRole: String?

            /// A directory at `url` with users under `userBase`.
            public init(url: String, userBase: String) {
                self.url = url
                self.userBase = userBase
            }
        }

        /// `server.oidc.*`: an identity provider's tokens, and how their claims map to roles.
        public struct OIDC: Sendable, Hashable {
            /// `server.oidc.issuer`.
            public var issuer: String
            /// `server.oidc.audience`.
            public var audience: String
            /// `server.oidc.role_claim`.
            public var roleClaim = "roles"
            /// `server.oidc.user_claim`.
            public var userClaim = "preferred_username"
            /// Claim values per role name (`Owner`, `Contributor`, `Reader`): `server.oidc.owners`,
            /// `contributors`, `readers`.
            public var roles: [String: [String]] = [:]
            /// `server.oidc.default_role`.
            public var defaultRole: String?

            /// A provider's issuer and the audience its tokens must name.
            public init(issuer: String, audience: String) {
                self.issuer = issuer
                self.audience = audience
            }
        }
        /// Default settings (the same as `MLDeployServer`'s `ServerConfiguration()`).
        public init() {}
    }

    /// Default settings: the in-memory target, no credentials.
    public init() {}

    /// Refuses a user named without a password when no other credentials stand in for it.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` naming where the user came from
    ///   and how to give the password.
    public func checkCredentials() throws {
        guard self.auth == nil, self.usernameWithoutPassword != nil else { return }
        throw MLDeployError(
            code: .invalidConfiguration,
            message: "Invalid configuration: auth.username is set (from \(self.sources["auth.username"] ?? "?")) but no password: set MLDEPLOY_PASSWORD, auth.password_file or auth.password, or log in once (mldeploy login) so a cached session stands in for it."
        )
    }

    /// The target to deploy to: the configured one, or `defaultTarget`.
    public func deployTarget(default defaultTarget: String = "memory:") -> DeployTarget {
        let text = self.target ?? defaultTarget
        if text.contains(":") { return .uri(text, options: self.targetOptions) }
        return .named(text, host: self.host, options: self.targetOptions)
    }

    /// A client for the configured target, with the configured credentials and HTTP behaviour,
    /// resolved in `registry`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for a user without a password
    ///   (and no session in ``auth``), or what creating the client throws.
    public func makeClient(registry: BackendRegistry = .shared, logger: Logger = Logger(label: "mldeploy.client")) async throws -> DeployClient {
        try self.checkCredentials()
        // Local backends read the Python runtime's settings from the target's options.
        return try await DeployClient(
            target: self.deployTarget().addingOptions(self.pythonOptions), auth: self.auth, http: self.http,
            operationMiddleware: self.operationMiddleware(), registry: registry, logger: logger
        )
    }

    /// The names `middleware` takes, each with the middleware it makes.
    public static let middlewareNames: [(name: String, make: @Sendable () -> any OperationMiddleware)] = [
        ("tracing", { TracingOperationMiddleware() }),
        ("metrics", { MetricsOperationMiddleware() }),
        ("logging", { LoggingOperationMiddleware() }),
    ]

    /// The operation middleware ``middleware`` names (or `defaults` when it names none).
    public func operationMiddleware(default defaults: [any OperationMiddleware] = DeployClient.defaultMiddleware) -> [any OperationMiddleware] {
        guard let names = self.middleware else { return defaults }
        return names.compactMap { name in Self.middlewareNames.first { $0.name == name }?.make() }
    }
}
