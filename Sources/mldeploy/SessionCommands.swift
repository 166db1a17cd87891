import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployHTTP
import MLServerBackend
import ServiceRuntime

/// `mldeploy login`: get a session from a server target and cache it.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a server target and cache the session (owner-only file), so later commands need no password.",
        discussion: """
            The username comes from --username or the configuration (MLDEPLOY_USERNAME, auth.username); \
            the password from standard input with --password-stdin, or the configuration \
            (MLDEPLOY_PASSWORD, auth.password_file, …). The cached session (access token, refresh \
            token, user) serves every later command on the target until logout.
            """
    )

    @Option(name: .long, help: "The user (overrides the configuration).")
    var username: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
    var passwordStandardInput = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            // The password on standard input comes first: it is what completes a configuration
            // that names only a user.
            var password = self.passwordStandardInput ? readLine(strippingNewline: true) : nil
            let configuration = try await self.global.configuration()
            let target = try ServerTarget(configuration, command: "login")
            let username = self.username ?? configuration.auth?.passwordCredentials?.username ?? configuration.usernameWithoutPassword
            if password == nil { password = configuration.auth?.passwordCredentials?.password }
            guard let username, let password, !password.isEmpty else {
                throw MLDeployError(
                    code: .authenticationFailed,
                    message: "login needs a username and a password: set MLDEPLOY_USERNAME and MLDEPLOY_PASSWORD, or give --username and the password on standard input with --password-stdin."
                )
            }
            let http = HTTPClient(configuration: configuration.http)
            defer { Task { await http.shutdown() } }
            http.authentication.use(LoginTokenSource(baseURL: target.url, username: username, password: password))
            guard let token = try await http.authentication.authenticate() else {
                throw MLDeployError(code: .authenticationFailed, message: "The server at \(target.base) issued no token.")
            }
            let cache = TokenCache()
            // A session replaced by this login is revoked, so logging in again leaves one behind.
            if let old = try cache.session(for: target.key) {
                try? await target.revoke(old, http: http)
            }
            try cache.store(AuthSession(accessToken: token.value, refreshToken: token.refreshToken, expiresAt: token.expiresAt, username: username), for: target.key)
            if self.global.format == .json {
                try Output.json(["loggedIn": .string(target.key), "url": .string(target.base), "user": .string(username), "expires": token.expiresAt.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null])
            } else {
                print("logged in to \(target.base) as \(username)\(token.expiresAt.map { "; the access token expires \($0), the session renews itself until logout" } ?? "")")
            }
        }
    }
}

/// `mldeploy logout`: end the cached session of a target.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout",
        abstract: "End the cached session of the target: revoke its refresh token on the server and forget it.",
        discussion: "The access token itself stays valid until it expires (ML Server's tokens live an hour); the server cannot renew it after logout."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            let target = try ServerTarget(configuration, command: "logout")
            guard let session = try TokenCache().remove(target.key) else {
                if self.global.format == .json { try Output.json(["loggedOut": .string(target.key), "cached": false]) } else { print("not logged in to \(target.key): no cached session") }
                return
            }
            var revoked = false
            if session.refreshToken != nil {
                let http = HTTPClient(configuration: configuration.http)
                defer { Task { await http.shutdown() } }
                do {
                    try await target.revoke(session, http: http)
                    revoked = true
                } catch let error as MLDeployError {
                    FileHandle.standardError.write(Data("warning: the server did not revoke the session's refresh token (\(error.code)): \(error.message)\n".utf8))
                }
            }
            if self.global.format == .json {
                try Output.json(["loggedOut": .string(target.key), "cached": true, "revoked": .bool(revoked)])
            } else {
                print("logged out of \(target.key)\(revoked ? " (the session's refresh token is revoked)" : "")")
            }
        }
    }
}

/// The server target `login` and `logout` work on: the key its session is cached under (the target
/// as configured) and its base URL.
struct ServerTarget {
    let key: String
    let base: String
    let url: URL

    init(_ configuration: DeployConfiguration, command: String) throws {
        guard let target = configuration.target else {
            throw MLDeployError(code: .invalidConfiguration, message: "\(command) needs a server target: --target mlserver+http://HOST:PORT (or MLDEPLOY_TARGET, or the config file).")
        }
        let backendConfiguration = target.contains(":")
            ? BackendConfiguration(backendName: "MLServer", uri: try TargetURI(parsing: target))
            : BackendConfiguration(backendName: target, host: configuration.host)
        guard target.contains(":") ? target.lowercased().hasPrefix("mlserver+") : ["mlserver", "azureml.deploy.server.mlserver"].contains(target.lowercased()) else {
            throw MLDeployError(code: .invalidTarget, message: "\(command) works with server targets (mlserver+http://HOST:PORT); '\(target)' is not one and needs no login.")
        }
        self.key = target
        self.base = try MLServerBackend.baseURL(of: backendConfiguration)
        guard let url = URL(string: self.base) else { throw MLDeployError(code: .invalidTarget, message: "'\(self.base)' is not a URL.") }
        self.url = url
    }

    /// Revokes the session on the server: its refresh token (`DELETE /login/refreshToken`, with the
    /// access token, which ML Server asks for there), then — where the server offers it, as
    /// `mldeploy serve` does — its still-valid access token (`DELETE /login/accessToken`; an ML
    /// Server answers 404, and its access token lives until it expires).
    func revoke(_ session: AuthSession, http: HTTPClient) async throws {
        guard let refreshToken = session.refreshToken else { return }
        let encoded = refreshToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? refreshToken
        var headers: HTTPHeaders = ["Accept": "application/json"]
        let accessValid = session.expiresAt.map({ $0 > Date() }) ?? true
        if accessValid { headers.add("Authorization", "Bearer " + session.accessToken) }
        let request = try HTTPRequest(.delete, self.base + "/login/refreshToken?refreshToken=" + encoded, headers: headers)
        let response = try await http.send(request)
        guard response.isSuccess else {
            throw MLDeployError(code: .backendFailure, message: "DELETE /login/refreshToken answered HTTP \(response.status): \(response.excerpt())", httpStatus: response.status)
        }
        if accessValid {
            _ = try? await http.send(try HTTPRequest(.delete, self.base + "/login/accessToken", headers: headers))
        }
    }
}

/// `mldeploy config show`: the settings in effect and where each came from.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Inspect the configuration.", subcommands: [ConfigShowCommand.self])
}

struct ConfigShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print every setting in effect, its source, secrets masked.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            var flags: [String: String] = [:]
            if let target = self.global.target { flags["target"] = target }
            let sources = try await ConfigurationSources.load(flags: flags, configFile: self.global.config, profile: self.global.profile)
            ConfigurationWarnings.report(unknownKeys: sources.unknownKeys, file: sources.file)
            _ = try DeployConfiguration(sources: sources)  // invalid settings fail here, as for any command
            // Every setting: what is set and where, else its default, else that it is not set.
            var rows: [(key: ConfigurationKey, value: String?, source: String)] = []
            for key in ConfigurationKey.all {
                if let (value, source) = try sources.value(key.name) {
                    rows.append((key, key.isSecret ? "****" : value, source))
                } else if let value = DeployConfiguration.defaultValue(of: key.name) {
                    rows.append((key, value, "default"))
                } else {
                    rows.append((key, nil, "not set"))
                }
            }
            switch self.global.format {
            case .json:
                var object = JSONObject()
                for row in rows { object[row.key.name] = ["value": row.value.map(JSONValue.string) ?? .null, "source": .string(row.source)] }
                try Output.json([
                    "file": sources.file.map(JSONValue.string) ?? .null, "profile": sources.profile.map(JSONValue.string) ?? .null,
                    "settings": .object(object), "unknownKeys": .array(sources.unknownKeys.map(JSONValue.string)),
                ])
            case .text:
                print("config file: \(sources.file ?? "none")\(sources.profile.map { "  profile: \($0)" } ?? "")")
                Output.table(["KEY", "VALUE", "SOURCE"], rows.map { [$0.key.name, $0.value ?? "-", $0.source] })
            }
        }
    }
}

/// `mldeploy doctor`: what this machine and target can do.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check Python and its numpy, pandas and dill; libcurl; and whether the target answers.",
        discussion: "Exits 1 when the target cannot be reached; a missing Python module is a warning (only Python services need them)."
    )

    @OptionGroup var global: GlobalOptions

    /// One finding: what was checked, whether it is fine, and what was seen.
    struct Check {
        enum Status: String { case ok, warning, error }
        let name: String
        let status: Status
        let detail: String
    }

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            var checks = [Check(name: "libcurl", status: .ok, detail: HTTPClient.libcurlVersion)]
            checks += Self.python(configuration.python.interpreter)
            checks.append(await Self.confinement(configuration.python))
            let target = "\(configuration.deployTarget())"
            do {
                let count = try await withConfiguredClient(self.global) { try await $0.listServices().count }
                checks.append(Check(name: "target", status: .ok, detail: "'\(target)' is reachable: \(count) service version\(count == 1 ? "" : "s")"))
            } catch let error as MLDeployError {
                checks.append(Check(name: "target", status: .error, detail: "'\(target)' is NOT reachable: [\(error.code)] \(error.message)"))
            }
            switch self.global.format {
            case .json:
                try Output.json(.array(checks.map { ["check": .string($0.name), "status": .string($0.status.rawValue), "detail": .string($0.detail)] }))
            case .text:
                for check in checks { print("\(check.status == .ok ? "" : check.status.rawValue + ": ")\(check.name): \(check.detail)") }
            }
            if checks.contains(where: { $0.status == .error }) { throw ExitCode(1) }
        }
    }

    /// Whether Python workers (of `mldeploy serve`, and of the local targets) can be confined here,
    /// and how: a host that cannot is an error only for a server that must confine (it refuses to
    /// start); unconfined workers are a warning.
    static func confinement(_ configuration: PythonRuntime.Configuration) async -> Check {
        let runtime = PythonRuntime(configuration: configuration)
        defer { Task { await runtime.shutdown() } }
        do {
            let confinement = try await runtime.checkConfinement()
            return Check(name: "isolation", status: confinement.isolation == .none ? .warning : .ok, detail: "\(confinement)")
        } catch let error as MLDeployError {
            return Check(name: "isolation", status: .warning, detail: "[\(error.code)] \(error.message) ('mldeploy serve' refuses to start.)")
        } catch {
            return Check(name: "isolation", status: .warning, detail: "\(error)")
        }
    }

    /// The interpreter's version and its numpy, pandas and dill.
    static func python(_ python: String) -> [Check] {
        let probe = Process()
        let output = Pipe()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = [python, "-c", "import sys\nprint('python', sys.version.split()[0])\nfor m in ('numpy', 'pandas', 'dill'):\n    try:\n        print(m, __import__(m).__version__)\n    except Exception as e:\n        print(m, 'MISSING', type(e).__name__)"]
        probe.standardOutput = output
        probe.standardError = output
        do {
            try probe.run()
        } catch {
            return [Check(name: "python", status: .warning, detail: "\(python) could not be started: \(error.localizedDescription)")]
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else {
            return [Check(name: "python", status: .warning, detail: "\(python) did not run: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")]
        }
        return text.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let name = parts.first ?? "", rest = parts.count > 1 ? parts[1] : ""
            if name == "python" { return Check(name: "python", status: .ok, detail: "\(python) \(rest)") }
            return rest.hasPrefix("MISSING")
                ? Check(name: name, status: .warning, detail: "not importable (\(rest.dropFirst("MISSING ".count))); Python services that use it fail")
                : Check(name: name, status: .ok, detail: rest)
        }
    }
}
