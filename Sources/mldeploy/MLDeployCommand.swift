import ArgumentParser
import Foundation
import FileStoreBackend
import InMemoryBackend
import MLDeploy
import MLServerBackend

/// `mldeploy`: operationalize analytic web services from the shell.
@main
struct MLDeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mldeploy",
        abstract: "Publish, consume and manage analytic web services on any deployment target.",
        discussion: """
            Exit codes: 0 success; 1 an operation failed (the error's code is printed to stderr); \
            2 verify found problems; 64 the command line was invalid.
            """,
        version: MLDeployVersion.current,
        subcommands: [
            DeployCommand.self, RedeployCommand.self, DeployRealtimeCommand.self, ListCommand.self, GetCommand.self, SwaggerCommand.self,
            DeleteCommand.self, ConsumeCommand.self, BatchCommand.self, LoginCommand.self, LogoutCommand.self, ServeCommand.self,
            UsersCommand.self, VerifyCommand.self, ConfigCommand.self, DoctorCommand.self, BackendsCommand.self, DemoCommand.self,
        ]
    )

    /// Registers the backends this executable links, once, before any command runs.
    static func registerBuiltInBackends(in registry: BackendRegistry = .shared) throws {
        try registry.register(.memory)
        try registry.register(.filesystem)
        try registry.register(.mlServer)
    }
}

/// The version printed by `mldeploy --version`.
enum MLDeployVersion {
    static let current = "0.1.0"
}

/// Runs `body`, printing an ``MLDeployError`` as `error[code]: message` to stderr and exiting 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try MLDeployCommand.registerBuiltInBackends()
        try await body()
    } catch let error as MLDeployError {
        FileHandle.standardError.write(Data("error[\(error.code)]: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}
