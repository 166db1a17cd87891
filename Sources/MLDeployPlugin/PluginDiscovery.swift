import Foundation
import MLDeploy
import Synchronization

/// Finds backend plugins: executables named `mldeploy-backend-<name>` in the directories of
/// ``PluginSettings/directories``.
///
/// Added to a registry by ``MLDeploy/BackendRegistry/enablePluginDiscovery(_:)``; the registry asks
/// it only for names and schemes no registered backend claims, so built-in backends always win.
/// The search runs on each lookup (a few `stat` calls), so a plugin installed while a server runs is
/// found by the next target that names it.
public final class PluginDiscovery: BackendDiscovery {
    /// The prefix of every plugin executable's name.
    public static let executablePrefix = "mldeploy-backend-"

    /// A plugin found on the search path.
    public struct Plugin: Sendable, Hashable {
        /// The backend name (and URI scheme): the executable's name without the prefix, lower-cased.
        public var name: String
        /// The executable's full path.
        public var path: String
    }

    /// The identifier every plugin discovery shares, so enabling discovery again replaces it.
    public let id = "mldeploy.plugins"
    private let settingsBox: Mutex<PluginSettings>

    /// A discovery with `settings`.
    public init(_ settings: PluginSettings = PluginSettings()) {
        self.settingsBox = Mutex(settings)
    }

    /// The settings in force.
    public var settings: PluginSettings {
        get { self.settingsBox.withLock { $0 } }
    }

    /// Every plugin on the search path, the first of each name (later ones are shadowed), sorted by
    /// name.
    public func plugins() -> [Plugin] {
        var found: [String: Plugin] = [:]
        for directory in self.settings.directories {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for entry in entries.sorted() where entry.hasPrefix(Self.executablePrefix) {
                let name = String(entry.dropFirst(Self.executablePrefix.count)).lowercased()
                guard Self.isValidName(name), found[name] == nil else { continue }
                let path = (directory as NSString).appendingPathComponent(entry)
                guard Self.isExecutableFile(path) else { continue }
                found[name] = Plugin(name: name, path: path)
            }
        }
        return found.values.sorted { $0.name < $1.name }
    }

    /// The plugin named `name` (ignoring case), if one is on the search path.
    public func plugin(named name: String) -> Plugin? {
        let key = name.lowercased()
        guard Self.isValidName(key) else { return nil }
        for directory in self.settings.directories {
            // Exact spelling first, then any spelling of the same name.
            let path = (directory as NSString).appendingPathComponent(Self.executablePrefix + name)
            if Self.isExecutableFile(path) { return Plugin(name: key, path: path) }
            if let entries = try? FileManager.default.contentsOfDirectory(atPath: directory),
                let entry = entries.first(where: { $0.lowercased() == Self.executablePrefix + key }),
                Self.isExecutableFile((directory as NSString).appendingPathComponent(entry))
            {
                return Plugin(name: key, path: (directory as NSString).appendingPathComponent(entry))
            }
        }
        return nil
    }

    /// The registration for a plugin: name and scheme `<name>`, a ``PluginBackend`` per backend
    /// instance.
    public func registration(for plugin: Plugin) -> BackendRegistration {
        let settings = self.settings
        return BackendRegistration(name: plugin.name, uriSchemes: [plugin.name], summary: "backend plugin at \(plugin.path)") { configuration in
            PluginBackend(plugin: plugin, configuration: configuration, settings: settings)
        }
    }

    /// See ``MLDeploy/BackendDiscovery/registration(named:)``.
    public func registration(named name: String) -> BackendRegistration? {
        self.plugin(named: name).map(self.registration(for:))
    }

    /// See ``MLDeploy/BackendDiscovery/registration(forScheme:)``.
    public func registration(forScheme scheme: String) -> BackendRegistration? {
        self.plugin(named: scheme).map(self.registration(for:))
    }

    /// See ``MLDeploy/BackendDiscovery/hint(for:)``.
    public func hint(for requested: String) -> String {
        let directories = self.settings.directories
        return "No backend plugin '\(Self.executablePrefix)\(requested.lowercased())' was found either (searched MLDEPLOY_PLUGIN_PATH, plugins.path and PATH: \(directories.count) directories); install one there to add that backend."
    }

    /// Plugin names are URI schemes: a letter, then letters, digits, `+`, `-` or `.`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) }
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}

extension BackendRegistry {
    /// Makes backend plugins reachable through this registry: a name or URI scheme nobody
    /// registered resolves to the `mldeploy-backend-<name>` executable found on the search path
    /// (`MLDEPLOY_PLUGIN_PATH`, `settings.searchPaths`, `PATH`). Calling it again replaces the
    /// settings.
    ///
    /// ```swift
    /// BackendRegistry.shared.enablePluginDiscovery()
    /// let client = try await DeployClient(target: "jsonstore:./services.json")
    /// ```
    @discardableResult
    public func enablePluginDiscovery(_ settings: PluginSettings = PluginSettings()) -> PluginDiscovery {
        let discovery = PluginDiscovery(settings)
        self.addDiscovery(discovery)
        return discovery
    }

    /// The plugin discovery enabled on this registry, if any.
    public var pluginDiscovery: PluginDiscovery? {
        self.allDiscoveries.lazy.compactMap { $0 as? PluginDiscovery }.first
    }
}
