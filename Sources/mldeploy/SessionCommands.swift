import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployHTTP
import MLServerBackend
import ServiceRuntime

/// `mldeploy login`: get an access token from a server target and cache it.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a server target and cache the access token (owner-only file), so later commands need no password.",
        discussion: "The username and password come from the configuration (MLDEPLOY_USERNAME and MLDEPLOY_PASSWORD, auth.password_file, …), or --username with the password on standard input."
    )

    @Option(name: .long, help: "The user (overrides the configuration).")
    var username: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.")
    var passwordStandardInput = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            guard let target = configuration.target else {
                throw MLDeployError(code: .invalidConfiguration, message: "login needs a server target: --target mlserver+http://HOST:PORT (or MLDEPLOY_TARGET, or the config file).")
            }
            var username = self.username, password: String?
            if let (configured, secret) = configuration.auth?.passwordCredentials {
                username = username ?? configured
                password = secret
            }
            if self.passwordStandardInput {
                password = readLine(strippingNewline: true)
            }
            guard let username, let password, !password.isEmpty else {
                throw MLDeployError(code: .authenticationFailed, message: "login needs a username and a password: set MLDEPLOY_USERNAME and MLDEPLOY_PASSWORD, or give --username and --password-stdin.")
            }
            let backendConfiguration = target.contains(":")
                ? BackendConfiguration(backendName: "MLServer", uri: try TargetURI(parsing: target))
                : BackendConfiguration(backendName: target, host: configuration.host)
            let base = try MLServerBackend.baseURL(of: backendConfiguration)
            let http = HTTPClient(configuration: configuration.http)
            defer { Task { await http.shutdown() } }
            http.authentication.use(LoginTokenSource(baseURL: URL(string: base)!, username: username, password: password))
            guard let token = try await http.authentication.authenticate() else {
                throw MLDeployError(code: .authenticationFailed, message: "The server at \(base) issued no token.")
            }
            try TokenCache().store(token.value, expires: token.expiresAt, for: target)
            print("logged in to \(base) as \(username)\(token.expiresAt.map { "; the token expires \($0)" } ?? "")")
        }
    }
}

/// `mldeploy logout`: forget the cached token of a target.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget the cached access token of the target.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            guard let target = configuration.target else { throw MLDeployError(code: .invalidConfiguration, message: "logout needs a target (--target, MLDEPLOY_TARGET or the config file).") }
            print(try TokenCache().remove(target) ? "logged out of \(target)" : "no cached token for \(target)")
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
            _ = try DeployConfiguration(sources: sources)  // invalid settings fail here, as for any command
            var rows: [(key: ConfigurationKey, value: String, source: String)] = []
            for key in ConfigurationKey.all {
                if let (value, source) = try sources.value(key.name) { rows.append((key, key.isSecret ? "****" : value, source)) }
            }
            switch self.global.format {
            case .json:
                var object = JSONObject()
                for row in rows { object[row.key.name] = ["value": .string(row.value), "source": .string(row.source)] }
                try Output.json(["file": sources.file.map(JSONValue.string) ?? .null, "profile": sources.profile.map(JSONValue.string) ?? .null, "settings": .object(object)])
            case .text:
                print("config file: \(sources.file ?? "none")\(sources.profile.map { "  profile: \($0)" } ?? "")")
                Output.table(["KEY", "VALUE", "SOURCE"], rows.map { [$0.key.name, $0.value, $0.source] })
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

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            print("libcurl: \(HTTPClient.libcurlVersion)")
            let python = configuration.python.interpreter
            let probe = Process()
            let output = Pipe()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            probe.arguments = [python, "-c", "import sys\nprint('python', sys.version.split()[0])\nfor m in ('numpy', 'pandas', 'dill'):\n    try:\n        print(m, __import__(m).__version__)\n    except Exception as e:\n        print(m, 'MISSING', type(e).__name__)"]
            probe.standardOutput = output
            probe.standardError = output
            do {
                try probe.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                probe.waitUntilExit()
                if probe.terminationStatus == 0 {
                    for line in text.split(separator: "\n") { print((line.contains("MISSING") ? "warning: " : "") + line.replacingOccurrences(of: "python ", with: "python (\(python)): ")) }
                } else {
                    print("warning: python (\(python)) did not run: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            } catch {
                print("warning: python (\(python)) could not be started: \(error)")
            }
            let target = configuration.deployTarget()
            do {
                let count = try await withConfiguredClient(self.global) { try await $0.listServices().count }
                print("target \(target): reachable, \(count) service version\(count == 1 ? "" : "s")")
            } catch let error as MLDeployError {
                print("target \(target): NOT reachable — [\(error.code)] \(error.message)")
                throw ExitCode(1)
            }
        }
    }
}
