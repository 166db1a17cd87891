import Foundation

/// One setting the configuration understands: its dotted key (as in the config file), its
/// environment variable, the form its value must have, and whether it is a secret.
public struct ConfigurationKey: Sendable, Hashable {
    /// The key in the config file, dotted: `auth.username`.
    public let name: String
    /// The environment variable that sets it: `MLDEPLOY_USERNAME`.
    public let environmentVariable: String
    /// What a valid value looks like, for error messages.
    public let form: String
    /// Whether the value is a secret: masked by `config show`, never logged.
    public let isSecret: Bool

    init(_ name: String, env: String? = nil, form: String, secret: Bool = false) {
        self.name = name
        self.environmentVariable = env ?? "MLDEPLOY_" + name.uppercased().replacingOccurrences(of: ".", with: "_")
        self.form = form
        self.isSecret = secret
    }

    static let seconds = "a number of seconds, e.g. 30 or 2.5"
    static let path = "a file path"
    static let count = "a whole number of at least 1"

    /// Every key, in the order `config show` prints them.
    public static let all: [ConfigurationKey] = [
        ConfigurationKey("target", form: "a URI (file:PATH, memory:, postgresql://USER@HOST:PORT/DB, mlserver+http://HOST:PORT, mlserver+https://…) or a backend name (filesystem, memory, postgres, MLServer)"),
        ConfigurationKey("target_options", env: "MLDEPLOY_TARGET_OPTIONS", form: "the target backend's options: a section of option: value lines in the file, or key=value pairs separated by & or , (fsync=false&create=true)"),
        ConfigurationKey("middleware", env: "MLDEPLOY_MIDDLEWARE", form: "comma-separated operation middleware in order, the first outermost: tracing, metrics, logging (or none)"),
        ConfigurationKey("host", env: "MLDEPLOY_TARGET_HOST", form: "the server address of a named target, e.g. http://localhost:12800"),
        ConfigurationKey("auth.username", env: "MLDEPLOY_USERNAME", form: "a user name"),
        ConfigurationKey("auth.password", env: "MLDEPLOY_PASSWORD", form: "a password", secret: true),
        ConfigurationKey("auth.password_file", env: "MLDEPLOY_PASSWORD_FILE", form: "the path of a file holding the password"),
        ConfigurationKey("auth.token", env: "MLDEPLOY_TOKEN", form: "an access token", secret: true),
        ConfigurationKey("auth.token_file", env: "MLDEPLOY_TOKEN_FILE", form: "the path of a file holding an access token"),
        ConfigurationKey("auth.aad.authority", env: "MLDEPLOY_AAD_AUTHORITY", form: "an https URL, e.g. https://login.windows.net"),
        ConfigurationKey("auth.aad.tenant", env: "MLDEPLOY_AAD_TENANT", form: "a tenant id or domain"),
        ConfigurationKey("auth.aad.client_id", env: "MLDEPLOY_AAD_CLIENT_ID", form: "an application (client) id"),
        ConfigurationKey("auth.aad.resource", env: "MLDEPLOY_AAD_RESOURCE", form: "the resource (audience) id"),
        ConfigurationKey("auth.aad.client_secret", env: "MLDEPLOY_AAD_CLIENT_SECRET", form: "a client secret", secret: true),
        ConfigurationKey("auth.aad.client_secret_file", env: "MLDEPLOY_AAD_CLIENT_SECRET_FILE", form: "the path of a file holding the client secret"),
        ConfigurationKey("http.timeout.connect", form: seconds),
        ConfigurationKey("http.timeout.control_plane", form: seconds),
        ConfigurationKey("http.timeout.consume", form: seconds),
        ConfigurationKey("http.retry.attempts", form: count),
        ConfigurationKey("http.loop_threads", form: "a whole number from 1 to 16: the HTTP client's network threads"),
        ConfigurationKey("http.proxy", form: "none, environment, or a proxy URL such as http://proxy:3128"),
        ConfigurationKey("http.no_proxy", form: "comma-separated host names or domains"),
        ConfigurationKey("http.tls.verify", form: "true or false"),
        ConfigurationKey("http.tls.ca_bundle", form: path),
        ConfigurationKey("http.tls.client_certificate", form: path),
        ConfigurationKey("http.tls.client_key", form: path),
        ConfigurationKey("runtime.python", env: "MLDEPLOY_PYTHON", form: "a Python 3 interpreter (a path or a name on PATH)"),
        ConfigurationKey("runtime.max_workers", form: count),
        ConfigurationKey("runtime.workers_per_version", form: count),
        ConfigurationKey("runtime.call_timeout", form: seconds),
        ConfigurationKey("runtime.memory_limit_mb", form: "a whole number of megabytes per worker (0: no limit)"),
        ConfigurationKey("runtime.queue_wait", form: "a whole number of seconds a call may wait for a busy service's worker (0: no limit)"),
        ConfigurationKey("runtime.artifact_limit_mb", form: "a whole number of megabytes an artifact may have (0: no limit)"),
        ConfigurationKey("runtime.isolation", form: "sandbox (workers confined, the default) or none (workers run as the server's user)"),
        ConfigurationKey("runtime.user", form: "the unprivileged user confined workers run as (default nobody)"),
        ConfigurationKey("runtime.network", form: "host (the default) or none (a confined worker's own loopback only)"),
        ConfigurationKey("runtime.scratch_mb", form: "a whole number of megabytes of a confined worker's working directory and /tmp (each)"),
        ConfigurationKey("runtime.max_processes", form: "a whole number of at least 1: processes one worker's tree may have"),
        ConfigurationKey("runtime.realtime_batching", form: "SERVICE:SIZE:WAIT entries, comma-separated (e.g. *:64:2ms): realtime calls batched together (default off)"),
        ConfigurationKey("plugins.path", form: "colon-separated directories searched for mldeploy-backend-<name> plugins, after MLDEPLOY_PLUGIN_PATH and before PATH"),
        ConfigurationKey("plugins.handshake_timeout", form: seconds),
        ConfigurationKey("plugins.call_timeout", form: seconds),
        ConfigurationKey("server.host", env: "MLDEPLOY_HOST", form: "an address to listen on, e.g. 127.0.0.1"),
        ConfigurationKey("server.port", env: "MLDEPLOY_PORT", form: "a port number from 0 to 65535"),
        ConfigurationKey("server.data_dir", env: "MLDEPLOY_DATA_DIR", form: "a directory path"),
        ConfigurationKey("server.backend", env: "MLDEPLOY_BACKEND", form: "a backend name or URI for the server to serve"),
        ConfigurationKey("server.database", env: "MLDEPLOY_DATABASE", form: "a postgresql:// URI where the server keeps its state (users, tokens, sessions…) for several nodes"),
        ConfigurationKey("server.max_json_mb", form: "a whole number of megabytes a JSON request body may have"),
        ConfigurationKey("server.max_upload_mb", form: "a whole number of megabytes an upload (workspace object, model) may have"),
        ConfigurationKey("server.idle_timeout", form: seconds),
        ConfigurationKey("server.body_timeout", form: seconds),
        ConfigurationKey("server.max_connections", form: count),
        ConfigurationKey("server.max_sessions", form: "a whole number of at least 1: sessions one user may have open"),
        ConfigurationKey("server.user_quota_mb", form: "a whole number of megabytes one user's sessions and snapshots may hold"),
        ConfigurationKey("server.max_calls_per_user", form: "a whole number of at least 1: calls one user may have in flight"),
        ConfigurationKey("server.metrics", form: "public (the default: GET /metrics without a token), token (signed-in users) or off"),
        ConfigurationKey("server.metrics_port", env: "MLDEPLOY_METRICS_PORT", form: "a port number from 0 to 65535 to serve GET /metrics on apart from the API (unset: the API's port)"),
        ConfigurationKey("server.executor", form: "pool (the default: Swift's global pool runs request handlers) or event_loops (every task on the server's event loop threads: more requests a second, longer tails under mixed load)"),
        ConfigurationKey("server.log_format", form: "text (the default) or json (one JSON object per line, with trace_id and span_id inside traced requests)"),
        ConfigurationKey("server.oidc.issuer", form: "an OpenID Connect provider's issuer URL, exactly as its tokens' iss spells it, to accept its bearer tokens"),
        ConfigurationKey("server.oidc.audience", form: "the audience (aud) the provider's tokens must name: the server's application id or URI"),
        ConfigurationKey("server.oidc.role_claim", form: "the token claim whose values map to roles: roles (the default) or groups"),
        ConfigurationKey("server.oidc.user_claim", form: "the token claim that names the user (default preferred_username; sub when absent)"),
        ConfigurationKey("server.oidc.owners", form: "comma-separated role-claim values that make a user an Owner"),
        ConfigurationKey("server.oidc.contributors", form: "comma-separated role-claim values that make a user a Contributor"),
        ConfigurationKey("server.oidc.readers", form: "comma-separated role-claim values that make a user a Reader"),
        ConfigurationKey("server.oidc.default_role", form: "Owner, Contributor or Reader for signed-in users whose claim maps to none (unset: they are refused)"),
        ConfigurationKey("server.ldap.url", form: "the directory's ldap:// or ldaps:// URL, to sign its users in at POST /login"),
        ConfigurationKey("server.ldap.bind_dn", form: "the DN of the account the server searches the directory with (unset: anonymous)"),
        ConfigurationKey("server.ldap.bind_password", form: "that account's password", secret: true),
        ConfigurationKey("server.ldap.user_base", form: "the DN under which users are searched, e.g. ou=people,dc=example,dc=org"),
        ConfigurationKey("server.ldap.user_filter", form: "the filter that finds a user, with {username}: (uid={username}) (the default) or (sAMAccountName={username})"),
        ConfigurationKey("server.ldap.group_base", form: "the DN under which groups are searched (default: the user base's parent)"),
        ConfigurationKey("server.ldap.group_filter", form: "the filter that finds a user's groups, with {dn}: (member={dn}) (the default)"),
        ConfigurationKey("server.ldap.owners", form: "comma-separated group names (cn) whose members are Owners"),
        ConfigurationKey("server.ldap.contributors", form: "comma-separated group names (cn) whose members are Contributors"),
        ConfigurationKey("server.ldap.readers", form: "comma-separated group names (cn) whose members are Readers"),
        ConfigurationKey("server.ldap.default_role", form: "Owner, Contributor or Reader for directory users in no mapped group (unset: they are refused)"),
    ]

    /// The key named `name`.
    public static func named(_ name: String) -> ConfigurationKey? {
        Self.all.first { $0.name == name }
    }
}
