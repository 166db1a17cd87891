import ArgumentParser
import Foundation
import FileStoreBackend
import PostgresBackend
import InMemoryBackend
import MLDeploy
import MLDeployPlugin
import MLServerBackend
import OIPBackend
import Tracing

/// `mldeploy`: operationalize analytic web services from the shell.
@main
struct MLDeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mldeploy",
        abstract: "Publish, consume and manage analytic web services on any deployment target.",
        discussion: """
            The global options --target, --config, --profile and --format go before the command or \
            after it (mldeploy --target file:./services list). mldeploy --version (or mldeploy version) \
            prints the tool's version; a command's own --version is the service version. \
            Exit codes: 0 success; 1 an operation failed (the error's code is printed to stderr); \
            2 verify found problems; 64 the command line was invalid.
            """,
        subcommands: [
            DeployCommand.self, RedeployCommand.self, DeployRealtimeCommand.self, RedeployRealtimeCommand.self, ListCommand.self, GetCommand.self, SwaggerCommand.self, OpenAPICommand.self,
            DeleteCommand.self, ConsumeCommand.self, BatchCommand.self, LoginCommand.self, LogoutCommand.self, ServeCommand.self,
            UsersCommand.self, VerifyCommand.self, ConfigCommand.self, DoctorCommand.self, BackendsCommand.self, ConformanceCommand.self, DemoCommand.self,
            VersionCommand.self,
        ]
    )

    /// Places the global options (they may precede the command) and answers `mldeploy --version`,
    /// then parses and runs the command. The configuration deliberately sets no `version`:
    /// ArgumentParser would otherwise take any `--version` it cannot place — a command's service
    /// version after a misplaced option — for the tool's version flag and exit 0.
    static func main() async {
        do {
            switch try GlobalOptionPlacement.arrange(Array(CommandLine.arguments.dropFirst())) {
            case .version:
                print(MLDeployVersion.current)
            case .command(let arguments):
                await self.main(arguments)
            }
        } catch {
            self.exit(withError: error)
        }
    }

    /// Registers the backends this executable links, once, before any command runs, and turns on
    /// plugin discovery (`mldeploy-backend-<name>` on `MLDEPLOY_PLUGIN_PATH` and `PATH`; the
    /// configuration's `plugins.path` is added when a command loads it).
    static func registerBuiltInBackends(in registry: BackendRegistry = .shared) throws {
        try registry.register(.memory)
        try registry.register(.filesystem)
        try registry.register(.postgres)
        try registry.register(.mlServer)
        try registry.register(.oip)
        if registry.pluginDiscovery == nil { registry.enablePluginDiscovery() }
    }
}

/// The version printed by `mldeploy --version` and `mldeploy version`.
enum MLDeployVersion {
    static let current = "0.1.0"
}

/// `mldeploy version`: the tool's version.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the tool's version (as mldeploy --version does).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            try self.global.refuseUnused(["--target", "--config", "--profile"], by: "version", why: "it prints this tool's version and reaches no target.")
            if self.global.format == .json { try Output.json(["version": .string(MLDeployVersion.current)]) } else { print(MLDeployVersion.current) }
        }
    }
}

/// Runs `body`, printing an ``MLDeployError`` as `error[code]: message` to stderr and exiting 1.
///
/// When `OTEL_*` names an OTLP endpoint, the command is traced: `body` runs inside a span named
/// `span` (`mldeploy`; `nil` for `serve`, whose requests are the roots of their own traces), every
/// operation and HTTP request under it, and queued spans are exported before the command returns.
func reportingErrors(span: String? = "mldeploy", _ body: () async throws -> Void) async throws {
    let tracing: TracingSession?
    do {
        tracing = try TracingSession.start(serviceName: span == nil ? "mldeploy-serve" : "mldeploy")
    } catch {
        FileHandle.standardError.write(Data("warning: traces are not exported (\(error)); check the OTEL_* settings.\n".utf8))
        tracing = nil
    }
    do {
        try MLDeployCommand.registerBuiltInBackends()
        if let span, tracing != nil {
            try await withSpan(span, ofKind: .internal) { traced in
                traced.attributes["mldeploy.command"] = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") } ?? ""
                try await body()
            }
        } else {
            try await body()
        }
        await tracing?.finish()
    } catch let error as MLDeployError {
        await tracing?.finish()
        FileHandle.standardError.write(Data("error[\(error.code)]: \(error.message)\n".utf8))
        throw ExitCode(1)
    } catch {
        await tracing?.finish()
        throw error
    }
}
