import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration

/// The options every command takes: where to deploy, which configuration, and the output format.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The deployment target: a URI (file:PATH, memory:, mlserver+http://HOST:PORT) or a backend name. Overrides MLDEPLOY_TARGET and the config file.")
    var target: String?

    @Option(name: .long, help: "The config file (YAML or JSON). Default: MLDEPLOY_CONFIG, ./mldeploy.yaml, ~/.config/mldeploy/config.yaml.")
    var config: String?

    @Option(name: .long, help: "A profile of the config file (or MLDEPLOY_PROFILE).")
    var profile: String?

    @Option(name: .long, help: "Output: text (tables) or json.")
    var format: OutputFormat = .text

    /// Loads the configuration with these options and `flags` (dotted keys) on top.
    func configuration(flags: [String: String] = [:]) async throws -> DeployConfiguration {
        var flags = flags
        if let target = self.target { flags["target"] = target }
        return try await DeployConfiguration.load(flags: flags, configFile: self.config, profile: self.profile)
    }
}

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}
