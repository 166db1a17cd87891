import ArgumentParser
import MLDeploy

/// `mldeploy backends`: what deployment targets this executable can reach.
struct BackendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the registered backends, their aliases and URI schemes."
    )

    func run() async throws {
        try await reportingErrors {
            for registration in BackendRegistry.shared.all {
                var line = registration.name
                if !registration.aliases.isEmpty { line += "  aliases: " + registration.aliases.joined(separator: ", ") }
                if !registration.uriSchemes.isEmpty { line += "  URIs: " + registration.uriSchemes.map { "\($0):" }.joined(separator: ", ") }
                print(line)
                print("    \(registration.summary)")
            }
        }
    }
}
