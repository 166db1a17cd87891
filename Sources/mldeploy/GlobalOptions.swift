import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployPlugin
import Synchronization

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

    /// Refuses those of `names` (`--target`, `--config`, `--profile`, `--format`) that were given on
    /// the command line, for a command that has no use for them: an accepted option is never
    /// silently ignored. `why` says what the command does instead.
    ///
    /// - Throws: `ValidationError` (exit 64) naming the options.
    func refuseUnused(_ names: [String], by command: String, why: String) throws {
        let given = names.filter { name in
            switch name {
            case "--target": return self.target != nil
            case "--config": return self.config != nil
            case "--profile": return self.profile != nil
            default: return false
            }
        }
        guard given.isEmpty else {
            throw ValidationError("mldeploy \(command) does not use \(given.joined(separator: " or ")): \(why)")
        }
    }

    /// Loads the configuration with these options and `flags` (dotted keys) on top; `--target`
    /// becomes the `target` setting unless `usingTarget` is false (for `serve`, where it names the
    /// backend served). Warns once on standard error about config-file keys no setting reads.
    func configuration(flags: [String: String] = [:], usingTarget: Bool = true) async throws -> DeployConfiguration {
        var flags = flags
        if usingTarget, let target = self.target { flags["target"] = target }
        let configuration = try await DeployConfiguration.load(flags: flags, configFile: self.config, profile: self.profile)
        ConfigurationWarnings.report(unknownKeys: configuration.unknownKeys, file: configuration.file)
        BackendRegistry.shared.enablePluginDiscovery(configuration.plugins)
        return configuration
    }
}

/// Warnings about the configuration, printed once per process however often it is loaded.
enum ConfigurationWarnings {
    private static let reported = Mutex(false)

    /// Prints a warning naming `unknownKeys` of `file` (a misspelt key silently means a default).
    static func report(unknownKeys: [String], file: String?) {
        guard !unknownKeys.isEmpty, let file else { return }
        let first = Self.reported.withLock { reported in
            defer { reported = true }
            return !reported
        }
        guard first else { return }
        FileHandle.standardError.write(Data("warning: \(file): \(unknownKeys.count == 1 ? "key" : "keys") \(unknownKeys.map { "'\($0)'" }.joined(separator: ", ")) \(unknownKeys.count == 1 ? "is" : "are") not a setting and \(unknownKeys.count == 1 ? "is" : "are") ignored (mldeploy config show lists every setting).\n".utf8))
    }
}

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}
