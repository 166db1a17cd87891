import Foundation
import MLDeploy
import MLDeployHTTP
import MLDeployPlugin
import ServiceRuntime

extension DeployConfiguration {
    /// Loads the configuration from its sources, highest first: `flags` > `environment`
    /// (`MLDEPLOY_*`) > the config file (the profile's section, then the top level) > defaults.
    ///
    /// Secrets can come from the environment or files (`auth.password_file`, `auth.token_file`,
    /// `auth.aad.client_secret_file`); they are never required on the command line.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` naming the key, its source and
    ///   the expected form; for a missing or malformed file; for an unknown profile.
    public static func load(
        flags: [String: String] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        configFile: String? = nil,
        profile: String? = nil,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        home: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    ) async throws -> DeployConfiguration {
        let sources = try await ConfigurationSources.load(
            flags: flags, environment: environment, configFile: configFile, profile: profile, currentDirectory: currentDirectory, home: home
        )
        return try DeployConfiguration(sources: sources, environment: environment)
    }

    /// Builds the configuration from loaded sources.
    public init(sources: ConfigurationSources, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.init()
        self.file = sources.file
        self.profile = sources.profile
        self.unknownKeys = sources.unknownKeys
        for key in ConfigurationKey.all {
            if let (_, source) = try sources.value(key.name) { self.sources[key.name] = source }
        }
        let text: (String) throws -> String? = { key in try sources.parsed(key) { $0.isEmpty ? nil : $0 } }
        let seconds: (String) throws -> Duration? = { key in
            try sources.parsed(key) { Double($0).flatMap { $0 > 0 && $0.isFinite ? Duration.milliseconds(Int64($0 * 1000)) : nil } }
        }
        let count: (String) throws -> Int? = { key in try sources.parsed(key) { Int($0).flatMap { $0 >= 1 ? $0 : nil } } }
        let flag: (String) throws -> Bool? = { key in
            try sources.parsed(key) { ["true": true, "yes": true, "1": true, "false": false, "no": false, "0": false][$0.lowercased()] }
        }
        // A secret given directly or as a file: whichever comes from the higher source (a profile's
        // password file beats a top-level password); given both at one level, the value.
        func secret(_ key: String, file fileKey: String) throws -> String? {
            let direct = try sources.located(key), viaFile = try sources.located(fileKey)
            if let direct, viaFile.map({ direct.rank <= $0.rank }) ?? true { return try text(key) }
            guard let path = try sources.path(fileKey, currentDirectory: sources.currentDirectory) else { return nil }
            do {
                return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw MLDeployError(
                    code: .invalidConfiguration,
                    message: "Invalid configuration: \(fileKey) = '\(path)' from \(self.sources[fileKey] ?? "?") cannot be read: \(error.localizedDescription)"
                )
            }
        }

        self.target = try text("target")
        if let target = self.target, target.contains(":") {
            do {
                _ = try TargetURI(parsing: target)  // a malformed URI fails here, naming its source
            } catch let error as MLDeployError {
                throw MLDeployError(
                    code: .invalidConfiguration,
                    message: "Invalid configuration: target = '\(target)' from \(self.sources["target"] ?? "?"); \(error.message)"
                )
            }
        }
        self.host = try text("host")
        self.targetOptions = try sources.options("target_options")?.values ?? [:]
        self.middleware = try sources.parsed("middleware") { text -> [String]? in
            let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            if names == ["none"] { return [] }
            return names.allSatisfy { name in Self.middlewareNames.contains { $0.name == name } } && Set(names).count == names.count ? names : nil
        }

        // Credentials: a token wins over a username and password, which win over AAD.
        if let token = try secret("auth.token", file: "auth.token_file") {
            self.auth = .accessToken(token)
        } else if let username = try text("auth.username") {
            if let password = try secret("auth.password", file: "auth.password_file") {
                self.auth = .password(username: username, password: password)
            } else {
                // A user without a password is complete only with a session cached for that user
                // (`mldeploy login`); `makeClient()` refuses it otherwise.
                self.usernameWithoutPassword = username
            }
        } else if let authority = try text("auth.aad.authority") {
            var missing: [String] = []
            let tenant = try text("auth.aad.tenant"), clientID = try text("auth.aad.client_id"), resource = try text("auth.aad.resource")
            if tenant == nil { missing.append("auth.aad.tenant") }
            if clientID == nil { missing.append("auth.aad.client_id") }
            if resource == nil { missing.append("auth.aad.resource") }
            guard missing.isEmpty, let tenant, let clientID, let resource else {
                throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: AAD authentication also needs \(missing.joined(separator: ", ")).")
            }
            self.auth = .azureActiveDirectory(AADOptions(
                authority: authority, tenant: tenant, clientID: clientID, resource: resource,
                clientSecret: try secret("auth.aad.client_secret", file: "auth.aad.client_secret_file")
            ))
        }

        if let value = try seconds("http.timeout.connect") { self.http.timeout.connect = value }
        if let value = try seconds("http.timeout.control_plane") { self.http.timeout.controlPlane = value }
        if let value = try seconds("http.timeout.consume") { self.http.timeout.consume = value }
        if let value = try sources.parsed("http.loop_threads", { Int($0).flatMap { (1...16).contains($0) ? $0 : nil } }) { self.http.loopThreads = value }
        if let attempts = try count("http.retry.attempts") {
            self.http.retry.controlPlane.maximumAttempts = attempts
            self.http.retry.consume.maximumAttempts = attempts
        }
        let noProxy = try text("http.no_proxy").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        if let proxy = try sources.parsed("http.proxy", { value -> HTTPClient.Proxy? in
            switch value.lowercased() {
            case "none": return HTTPClient.Proxy.none
            case "environment": return .environment
            default: return value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("socks5://") ? .explicit(value, noProxy: noProxy) : nil
            }
        }) {
            self.http.proxy = proxy
        }
        if let verify = try flag("http.tls.verify") { self.http.tls.verify = verify }
        let here = sources.currentDirectory
        if let bundle = try sources.path("http.tls.ca_bundle", currentDirectory: here) { self.http.tls.caBundle = bundle }
        if let certificate = try sources.path("http.tls.client_certificate", currentDirectory: here) {
            guard let key = try sources.path("http.tls.client_key", currentDirectory: here) else {
                throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: http.tls.client_certificate needs http.tls.client_key too.")
            }
            self.http.tls.clientCertificate = .init(certificatePath: certificate, privateKeyPath: key)
        }

        if let python = try text("runtime.python") { self.python.interpreter = python }
        if let value = try count("runtime.max_workers") { self.python.maximumWorkers = value }
        if let value = try count("runtime.workers_per_version") { self.python.maximumWorkersPerVersion = value }
        if let value = try seconds("runtime.call_timeout") { self.python.callTimeout = value }
        if let megabytes = try sources.parsed("runtime.memory_limit_mb", { Int($0).flatMap { $0 >= 0 ? $0 : nil } }) {
            self.python.memoryLimit = megabytes == 0 ? nil : megabytes << 20
        }
        if let megabytes = try sources.parsed("runtime.artifact_limit_mb", { Int($0).flatMap { $0 >= 0 ? $0 : nil } }) {
            self.python.maximumArtifactSize = megabytes << 20
        }
        if let seconds = try sources.parsed("runtime.queue_wait", { Int($0).flatMap { $0 >= 0 ? $0 : nil } }) {
            self.python.maximumQueueWait = seconds == 0 ? nil : .seconds(seconds)
        }
        if let isolation = try sources.parsed("runtime.isolation", PythonIsolation.init(spelling:)) { self.python.isolation = isolation }
        if let user = try text("runtime.user") { self.python.sandboxUser = user }
        if let network = try sources.parsed("runtime.network", PythonNetwork.init(spelling:)) { self.python.network = network }
        if let megabytes = try sources.parsed("runtime.scratch_mb", { Int($0).flatMap { $0 >= 1 ? $0 : nil } }) { self.python.scratchSize = megabytes << 20 }
        if let value = try count("runtime.max_processes") { self.python.maximumProcesses = value }
        if let batching = try text("runtime.realtime_batching") {
            // Checked here, so a mistake is named with its key before any backend starts.
            do {
                _ = try RealtimeBatching.rules(options: [RealtimeBatching.optionKey: batching])
            } catch let error as MLDeployError {
                throw MLDeployError(code: .invalidConfiguration, message: "runtime.realtime_batching: \(error.message)")
            }
            self.realtimeBatching = batching
        }

        if let paths = try sources.paths("plugins.path", separator: ":", currentDirectory: here) { self.plugins.searchPaths = paths }
        if let value = try seconds("plugins.handshake_timeout") { self.plugins.handshakeTimeout = value }
        if let value = try seconds("plugins.call_timeout") { self.plugins.callTimeout = value }

        if let host = try text("server.host") { self.server.host = host }
        if let port = try sources.parsed("server.port", { Int($0).flatMap { (0...65535).contains($0) ? $0 : nil } }) { self.server.port = port }
        if let directory = try text("server.data_dir") { self.server.dataDirectory = directory }
        self.server.backend = try text("server.backend")
        self.server.database = try text("server.database")
        let megabytes: (String) throws -> Int? = { key in try sources.parsed(key) { Int($0).flatMap { (1...(1 << 30)).contains($0) ? $0 << 20 : nil } } }
        if let bytes = try megabytes("server.max_json_mb") { self.server.maximumJSONBodySize = bytes }
        if let bytes = try megabytes("server.max_upload_mb") { self.server.maximumUploadSize = bytes }
        if let value = try seconds("server.idle_timeout") { self.server.idleTimeout = value }
        if let value = try seconds("server.body_timeout") { self.server.bodyReadTimeout = value }
        if let value = try count("server.max_connections") { self.server.maximumConnections = value }
        if let value = try count("server.max_sessions") { self.server.maximumSessionsPerUser = value }
        if let bytes = try megabytes("server.user_quota_mb") { self.server.userStorageQuota = bytes }
        if let value = try count("server.max_calls_per_user") { self.server.maximumCallsPerUser = value }
        if let value = try sources.parsed("server.metrics", { ["public", "token", "off"].contains($0.lowercased()) ? $0.lowercased() : nil }) { self.server.metrics = value }
        if let port = try sources.parsed("server.metrics_port", { Int($0).flatMap { (0...65535).contains($0) ? $0 : nil } }) { self.server.metricsPort = port }
        if let value = try sources.parsed("server.executor", { ["pool", "event_loops"].contains($0.lowercased()) ? $0.lowercased() : nil }) { self.server.executor = value }
        if let value = try sources.parsed("server.log_format", { ["text", "json"].contains($0.lowercased()) ? $0.lowercased() : nil }) { self.server.logFormat = value }
        self.server.oidc = try Self.oidc(sources, text: text)
        self.server.ldap = try Self.ldap(sources, text: text)
    }

    /// `server.ldap.*`: nothing without a URL; with one, the user base is required.
    private static func ldap(_ sources: ConfigurationSources, text: (String) throws -> String?) throws -> ServerSettings.LDAP? {
        guard let url = try Self.sectionAnchor("server.ldap.url", text: text, hint: "the directory's ldap:// or ldaps:// URL") else { return nil }
        guard let base = try text("server.ldap.user_base") else {
            throw MLDeployError(code: .invalidConfiguration, message: "server.ldap.url is set but server.ldap.user_base is not: give the DN under which users are found, e.g. ou=people,dc=example,dc=org.")
        }
        var ldap = ServerSettings.LDAP(url: url, userBase: base)
        ldap.bindDN = try text("server.ldap.bind_dn")
        ldap.bindPassword = try text("server.ldap.bind_password")
        ldap.userFilter = try text("server.ldap.user_filter")
        ldap.groupBase = try text("server.ldap.group_base")
        ldap.groupFilter = try text("server.ldap.group_filter")
        ldap.roles = try Self.roleLists(prefix: "server.ldap", text: text)
        ldap.defaultRole = try Self.role("server.ldap.default_role", sources)
        return ldap
    }

    /// The value of the key a section hangs on (`server.ldap.url`), or `nil` when it is unset — and
    /// then no other key of its section (from ``ConfigurationKey/all``) may be set: that is a
    /// half-written section, refused naming the key that is set and the one that is missing.
    private static func sectionAnchor(_ anchor: String, text: (String) throws -> String?, hint: String) throws -> String? {
        if let value = try text(anchor) { return value }
        let section = String(anchor[..<anchor.lastIndex(of: ".")!])
        if let stray = try ConfigurationKey.all.map(\.name).first(where: { try $0.hasPrefix(section + ".") && $0 != anchor && text($0) != nil }) {
            throw MLDeployError(code: .invalidConfiguration, message: "\(stray) is set but \(anchor) is not: give \(hint), or remove the \(section) settings.")
        }
        return nil
    }

    /// The comma-separated values of `<prefix>.owners`, `.contributors` and `.readers`, by role name.
    private static func roleLists(prefix: String, text: (String) throws -> String?) throws -> [String: [String]] {
        var roles: [String: [String]] = [:]
        for (key, role) in [("owners", "Owner"), ("contributors", "Contributor"), ("readers", "Reader")] {
            if let values = try text("\(prefix).\(key)") { roles[role] = values.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        }
        return roles
    }

    /// A role name (any case) as `Owner`, `Contributor` or `Reader`.
    private static func role(_ key: String, _ sources: ConfigurationSources) throws -> String? {
        try sources.parsed(key) { value in
            ["owner", "contributor", "reader"].contains(value.lowercased()) ? value.prefix(1).uppercased() + value.dropFirst().lowercased() : nil
        }
    }

    /// `server.oidc.*`: nothing without an issuer; with one, the audience is required, and the
    /// claim values of each role and the default role are read.
    private static func oidc(_ sources: ConfigurationSources, text: (String) throws -> String?) throws -> ServerSettings.OIDC? {
        guard let issuer = try Self.sectionAnchor("server.oidc.issuer", text: text, hint: "the identity provider's issuer URL") else { return nil }
        guard let audience = try text("server.oidc.audience") else {
            throw MLDeployError(code: .invalidConfiguration, message: "server.oidc.issuer is set but server.oidc.audience is not: give the audience the provider's tokens name for this server (its application id or URI).")
        }
        var oidc = ServerSettings.OIDC(issuer: issuer, audience: audience)
        if let claim = try text("server.oidc.role_claim") { oidc.roleClaim = claim }
        if let claim = try text("server.oidc.user_claim") { oidc.userClaim = claim }
        oidc.roles = try Self.roleLists(prefix: "server.oidc", text: text)
        oidc.defaultRole = try Self.role("server.oidc.default_role", sources)
        return oidc
    }

    /// The Python runtime settings that differ from the defaults, as the target options local
    /// backends read (`python.interpreter`, …).
    public var pythonOptions: [String: String] {
        var options: [String: String] = [:]
        if self.sources["runtime.python"] != nil { options["python.interpreter"] = self.python.interpreter }
        if self.sources["runtime.max_workers"] != nil { options["python.maxTotalWorkers"] = String(self.python.maximumWorkers) }
        if self.sources["runtime.workers_per_version"] != nil { options["python.maxWorkers"] = String(self.python.maximumWorkersPerVersion) }
        if self.sources["runtime.call_timeout"] != nil, let limit = self.python.callTimeout {
            options["python.callTimeoutSeconds"] = String(max(1, Int(limit.components.seconds)))
        }
        if self.sources["runtime.memory_limit_mb"] != nil { options["python.memoryLimitMB"] = String((self.python.memoryLimit ?? 0) >> 20) }
        if self.sources["runtime.artifact_limit_mb"] != nil { options["python.artifactLimitMB"] = String(self.python.maximumArtifactSize >> 20) }
        if self.sources["runtime.queue_wait"] != nil { options["python.queueWaitSeconds"] = String(self.python.maximumQueueWait.map { Int($0.components.seconds) } ?? 0) }
        if self.sources["runtime.isolation"] != nil { options["python.isolation"] = self.python.isolation.description }
        if self.sources["runtime.user"] != nil { options["python.user"] = self.python.sandboxUser }
        if self.sources["runtime.network"] != nil { options["python.network"] = self.python.network.description }
        if self.sources["runtime.scratch_mb"] != nil { options["python.scratchMB"] = String(self.python.scratchSize >> 20) }
        if self.sources["runtime.max_processes"] != nil { options["python.maxProcesses"] = String(self.python.maximumProcesses) }
        if let batching = self.realtimeBatching { options[RealtimeBatching.optionKey] = batching }
        return options
    }
}
