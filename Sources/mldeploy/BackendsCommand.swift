import ArgumentParser
import MLDeploy
import MLDeployConfiguration

/// `mldeploy backends`: what deployment targets this executable can reach.
struct BackendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the registered backends, their aliases and URI schemes.",
        discussion: "With a target (--target, MLDEPLOY_TARGET or the config file), also says which backend it resolves to."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            // The configured target, resolved without creating anything: an unknown one fails here.
            let resolved = configuration.target == nil ? nil : try configuration.deployTarget().registration()
            let registrations = BackendRegistry.shared.all
            switch self.global.format {
            case .json:
                var object: JSONObject = [
                    "backends": .array(registrations.map { registration in
                        [
                            "name": .string(registration.name), "aliases": .array(registration.aliases.map(JSONValue.string)),
                            "uriSchemes": .array(registration.uriSchemes.map(JSONValue.string)), "summary": .string(registration.summary),
                        ]
                    })
                ]
                if let target = configuration.target { object["target"] = ["target": .string(target), "backend": resolved.map { .string($0.name) } ?? .null] }
                try Output.json(.object(object))
            case .text:
                for registration in registrations {
                    var line = registration.name
                    if !registration.aliases.isEmpty { line += "  aliases: " + registration.aliases.joined(separator: ", ") }
                    if !registration.uriSchemes.isEmpty { line += "  URIs: " + registration.uriSchemes.map { "\($0):" }.joined(separator: ", ") }
                    print(line)
                    print("    \(registration.summary)")
                }
                if let target = configuration.target, let resolved {
                    print("target \(target) (from \(configuration.sources["target"] ?? "?")) is served by \(resolved.name)")
                }
            }
        }
    }
}
