import ArgumentParser
import MLDeploy
import MLDeployConfiguration
import MLDeployPlugin

/// `mldeploy backends`: what deployment targets this executable can reach — the built-in backends
/// and the backend plugins found on the search path.
struct BackendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the built-in backends and the backend plugins found, with their URI schemes.",
        discussion: """
            Plugins are executables named mldeploy-backend-<name> in MLDEPLOY_PLUGIN_PATH, plugins.path or PATH; \
            each is started briefly to read its summary and capabilities from its handshake. A plugin whose name \
            a built-in backend already uses is listed as shadowed. With a target (--target, MLDEPLOY_TARGET or \
            the config file), also says which backend it resolves to.
            """
    )

    @OptionGroup var global: GlobalOptions

    /// A discovered plugin and what its handshake said.
    private struct PluginReport {
        var plugin: PluginDiscovery.Plugin
        var handshake: PluginBackend.Handshake?
        var problem: String?
        var shadowedBy: String?
    }

    func run() async throws {
        try await reportingErrors {
            let configuration = try await self.global.configuration()
            // The configured target, resolved without creating anything: an unknown one fails here.
            let resolved = configuration.target == nil ? nil : try configuration.deployTarget().registration()
            let registrations = BackendRegistry.shared.all
            let reports = await self.plugins(settings: configuration.plugins, builtIns: registrations)
            switch self.global.format {
            case .json:
                var object: JSONObject = [
                    "backends": .array(registrations.map { registration in
                        [
                            "name": .string(registration.name), "aliases": .array(registration.aliases.map(JSONValue.string)),
                            "uriSchemes": .array(registration.uriSchemes.map(JSONValue.string)), "summary": .string(registration.summary),
                        ]
                    }),
                    "plugins": .array(reports.map { report in
                        var entry: JSONObject = [
                            "name": .string(report.plugin.name), "path": .string(report.plugin.path),
                            "uriSchemes": [.string(report.plugin.name)],
                            "summary": report.handshake.map { .string($0.summary) } ?? .null,
                            "capabilities": report.handshake.map { .array(Self.capabilityNames($0.capabilities).map(JSONValue.string)) } ?? .null,
                            "protocolVersion": report.handshake.map { .integer($0.protocolVersion) } ?? .null,
                        ]
                        entry["problem"] = report.problem.map(JSONValue.string) ?? .null
                        entry["shadowedBy"] = report.shadowedBy.map(JSONValue.string) ?? .null
                        return .object(entry)
                    }),
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
                for report in reports {
                    print("\(report.plugin.name)  URIs: \(report.plugin.name):  plugin: \(report.plugin.path)")
                    if let handshake = report.handshake {
                        print("    \(handshake.summary)")
                        print("    capabilities: \(Self.capabilityNames(handshake.capabilities).joined(separator: ", ")); protocol \(handshake.protocolVersion)")
                    }
                    if let problem = report.problem { print("    not usable: \(problem)") }
                    if let shadow = report.shadowedBy { print("    shadowed: the built-in backend \(shadow) owns the name '\(report.plugin.name)'; this plugin is never used") }
                }
                if let target = configuration.target, let resolved {
                    print("target \(target) (from \(configuration.sources["target"] ?? "?")) is served by \(resolved.name)")
                }
            }
        }
    }

    /// Every plugin on the search path, each probed for its handshake (concurrently).
    private func plugins(settings: PluginSettings, builtIns: [BackendRegistration]) async -> [PluginReport] {
        let plugins = PluginDiscovery(settings).plugins()
        return await withTaskGroup(of: PluginReport.self) { group in
            for plugin in plugins {
                let shadow = builtIns.first { registration in
                    ([registration.name] + registration.aliases).contains { $0.lowercased() == plugin.name } || registration.uriSchemes.contains(plugin.name)
                }?.name
                group.addTask {
                    // A shadowed plugin is never used, so it is not started either.
                    if shadow != nil { return PluginReport(plugin: plugin, shadowedBy: shadow) }
                    do {
                        let handshake = try await PluginBackend.probe(plugin, settings: settings)
                        return PluginReport(plugin: plugin, handshake: handshake, shadowedBy: shadow)
                    } catch let error as MLDeployError {
                        return PluginReport(plugin: plugin, problem: "[\(error.code)] \(error.message)", shadowedBy: shadow)
                    } catch {
                        return PluginReport(plugin: plugin, problem: "\(error)", shadowedBy: shadow)
                    }
                }
            }
            var reports: [PluginReport] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.plugin.name < $1.plugin.name }
        }
    }

    private static func capabilityNames(_ capabilities: BackendCapabilities) -> [String] {
        BackendCapabilities.named.filter { capabilities.contains($0.1) }.map(\.0)
    }
}
