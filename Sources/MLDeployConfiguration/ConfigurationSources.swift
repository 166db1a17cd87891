import Configuration
import Foundation
import MLDeploy
import SystemPackage
import Yams

/// Where settings come from, highest first: flags, then the environment (`MLDEPLOY_*`), then the
/// config file — the selected profile's section before the file's top level — then defaults.
///
/// Each value is looked up through swift-configuration providers, one per source, so every value
/// knows where it came from: errors name the key, that source and the expected form.
public struct ConfigurationSources: Sendable {
    struct Layer: Sendable {
        let name: String
        let provider: any ConfigProvider
        let prefix: [String]
    }

    let layers: [Layer]
    /// The config file read, if any.
    public let file: String?
    /// The profile selected, if any.
    public let profile: String?
    /// The directory relative paths on the command line and in the environment start from.
    public let currentDirectory: String
    /// Keys in the config file that no setting reads (a misspelt `tiemout`, a section of another
    /// tool), dotted and as written (`profiles.prod.auth.user`). Nothing fails because of them; the
    /// CLI warns, since a misspelt key silently falls back to a default.
    public let unknownKeys: [String]

    /// Reads the sources.
    ///
    /// - Parameters:
    ///   - flags: Values given on the command line, by dotted key (`target`, `auth.username`).
    ///   - environment: The process environment (only `MLDEPLOY_*` variables are read).
    ///   - configFile: `--config FILE`: must exist. Without it, `MLDEPLOY_CONFIG`, then
    ///     `./mldeploy.yaml`, then `~/.config/mldeploy/config.yaml` are used when present.
    ///   - profile: `--profile NAME` (or `MLDEPLOY_PROFILE`): a section under `profiles:` in the file.
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for a missing or malformed
    ///   file, or a profile the file does not define.
    public static func load(
        flags: [String: String] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        configFile: String? = nil,
        profile: String? = nil,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        home: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    ) async throws -> ConfigurationSources {
        var layers: [Layer] = []
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags { flagValues[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: ConfigurationKey.named(key)?.isSecret ?? false) }
        layers.append(Layer(name: "the command line", provider: InMemoryProvider(name: "flags", values: flagValues), prefix: []))
        var environmentValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for key in ConfigurationKey.all {
            if let value = environment[key.environmentVariable] {
                environmentValues[AbsoluteConfigKey(key.name.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: key.isSecret)
            }
        }
        layers.append(Layer(name: "the environment", provider: InMemoryProvider(name: "environment", values: environmentValues), prefix: []))

        let explicit = configFile ?? environment["MLDEPLOY_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var file: String?
        if let explicit {
            let path = explicit.hasPrefix("/") ? explicit : currentDirectory + "/" + explicit
            guard FileManager.default.fileExists(atPath: path) else {
                throw MLDeployError(code: .invalidConfiguration, message: "The config file '\(explicit)' does not exist.")
            }
            file = path
        } else {
            file = [currentDirectory + "/mldeploy.yaml", home + "/.config/mldeploy/config.yaml"].first { FileManager.default.fileExists(atPath: $0) }
        }
        let profile = profile ?? environment["MLDEPLOY_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let file {
            let provider: FileProvider<YAMLSnapshot>
            do {
                provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(file))
            } catch {
                throw MLDeployError(code: .invalidConfiguration, message: "The config file '\(file)' is not valid YAML or JSON: \(error)", underlying: error)
            }
            if let profile {
                let section = Layer(name: "profile '\(profile)' of \(file)", provider: provider, prefix: ["profiles", profile])
                let defined = ConfigurationKey.all.contains { key in (try? Self.raw(key.name, in: section)) != nil }
                guard defined else {
                    throw MLDeployError(code: .invalidConfiguration, message: "The config file '\(file)' defines no profile '\(profile)' (no settings under profiles.\(profile)).")
                }
                layers.append(section)
            }
            layers.append(Layer(name: file, provider: provider, prefix: []))
        } else if let profile {
            throw MLDeployError(code: .invalidConfiguration, message: "Profile '\(profile)' was asked for, but there is no config file (give --config FILE, or create ./mldeploy.yaml).")
        }
        let unknown = try file.map { try Self.unknownKeys(inFile: $0) } ?? []
        return ConfigurationSources(layers: layers, file: file, profile: profile, currentDirectory: currentDirectory, unknownKeys: unknown)
    }

    /// The keys of the config file at `path` that are not settings: at the top level and under each
    /// profile of `profiles:`.
    static func unknownKeys(inFile path: String) throws -> [String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MLDeployError(code: .invalidConfiguration, message: "The config file '\(path)' cannot be read: \(error.localizedDescription)")
        }
        guard let tree = try? Yams.load(yaml: text) as? [String: Any] else { return [] }
        let known = Set(ConfigurationKey.all.map(\.name))
        let sections = Set(known.flatMap { name in
            let parts = name.split(separator: ".")
            return (1..<max(parts.count, 1)).map { parts.prefix($0).joined(separator: ".") }
        })
        var unknown: [String] = []
        func walk(_ node: [String: Any], prefix: String, shown: String) {
            for key in node.keys.sorted() {
                let dotted = prefix.isEmpty ? key : prefix + "." + key
                let written = shown.isEmpty ? key : shown + "." + key
                if known.contains(dotted) { continue }
                if sections.contains(dotted), let child = node[key] as? [String: Any] {
                    walk(child, prefix: dotted, shown: written)
                } else {
                    unknown.append(written)
                }
            }
        }
        var top = tree
        if let profiles = top.removeValue(forKey: "profiles") {
            if let profiles = profiles as? [String: Any] {
                for name in profiles.keys.sorted() {
                    if let section = profiles[name] as? [String: Any] { walk(section, prefix: "", shown: "profiles.\(name)") } else { unknown.append("profiles.\(name)") }
                }
            } else {
                unknown.append("profiles")
            }
        }
        walk(top, prefix: "", shown: "")
        return unknown
    }

    /// The value of `key` and where it came from, or `nil` when no source sets it.
    public func value(_ key: String) throws -> (value: String, source: String)? {
        try self.located(key).map { ($0.value, $0.source) }
    }

    /// The value of `key`, its source, and its precedence (0 is the highest).
    func located(_ key: String) throws -> (value: String, source: String, rank: Int)? {
        for (rank, layer) in self.layers.enumerated() {
            if let value = try Self.raw(key, in: layer) { return (value, layer.name, rank) }
        }
        return nil
    }

    /// A path setting made absolute: relative paths in the config file are relative to the file's
    /// directory; on the command line and in the environment, to the current directory.
    func path(_ key: String, currentDirectory: String) throws -> String? {
        try self.paths(key, separator: nil, currentDirectory: currentDirectory)?.first
    }

    /// A list of paths separated by `separator` (a search path such as `plugins.path`), each
    /// resolved as ``path(_:currentDirectory:)`` resolves one; empty entries are dropped.
    func paths(_ key: String, separator: Character?, currentDirectory: String) throws -> [String]? {
        guard let (value, _, rank) = try self.located(key) else { return nil }
        let base = rank >= 2 ? (self.file.map { ($0 as NSString).deletingLastPathComponent } ?? currentDirectory) : currentDirectory
        let entries = separator.map { value.split(separator: $0).map(String.init) } ?? [value]
        return entries.filter { !$0.isEmpty }.map { $0.hasPrefix("/") ? $0 : base + "/" + $0 }
    }

    /// The value of `key` parsed by `parse`; a value that does not parse is an error naming the key,
    /// its source and the expected form.
    func parsed<T>(_ key: String, _ parse: (String) -> T?) throws -> T? {
        guard let (text, source) = try self.value(key) else { return nil }
        guard let value = parse(text.trimmingCharacters(in: .whitespaces)) else {
            let form = ConfigurationKey.named(key)?.form ?? "a valid value"
            let shown = ConfigurationKey.named(key)?.isSecret == true ? "(secret)" : "'\(text)'"
            throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: \(key) = \(shown) from \(source); expected \(form).")
        }
        return value
    }

    /// A map setting (`target_options`): in the config file a section of scalars (the profile's
    /// before the top level); on the command line and in the environment `key=value` pairs
    /// separated by `&` or `,`. The highest source that sets it gives all of it.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for a pair without `=` or a
    ///   section holding lists or sections, naming the key and its source.
    func options(_ key: String) throws -> (values: [String: String], source: String)? {
        func pairs(_ text: String, _ source: String) throws -> [String: String] {
            var values: [String: String] = [:]
            for pair in text.split(whereSeparator: { $0 == "&" || $0 == "," }) {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: \(key) = '\(text)' from \(source); expected key=value pairs separated by & or , (fsync=false&create=true).")
                }
                values[parts[0]] = parts[1]
            }
            return values
        }
        for layer in self.layers {
            if let file = self.file, layer.name == file || layer.name.hasSuffix("of \(file)") {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8), var node = try? Yams.load(yaml: text) as? [String: Any] else { continue }
                for part in layer.prefix { node = node[part] as? [String: Any] ?? [:] }
                guard let value = node[key] else { continue }
                if let text = value as? String { return (try pairs(text, layer.name), layer.name) }
                guard let section = value as? [String: Any] else {
                    throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: \(key) in \(layer.name) must be a section of option: value lines.")
                }
                var values: [String: String] = [:]
                for (option, value) in section {
                    switch value {
                    case let text as String: values[option] = text
                    case let flag as Bool: values[option] = String(flag)
                    case let number as Int: values[option] = String(number)
                    case let number as Double: values[option] = String(number)
                    default:
                        throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: \(key).\(option) in \(layer.name) must be a single value, not a list or a section.")
                    }
                }
                return (values, layer.name)
            }
            if let text = try? Self.raw(key, in: layer) { return (try pairs(text, layer.name), layer.name) }
        }
        return nil
    }

    /// A scalar as text, whatever its YAML or JSON type.
    static func raw(_ key: String, in layer: Layer) throws -> String? {
        let absolute = AbsoluteConfigKey(layer.prefix + key.split(separator: ".").map(String.init))
        do {
            if let value = try layer.provider.value(forKey: absolute, type: .string).value, case .string(let text) = value.content { return text }
        } catch {}
        for type in [ConfigType.int, .double, .bool] {
            if let value = try? layer.provider.value(forKey: absolute, type: type).value {
                switch value.content {
                case .int(let number): return String(number)
                case .double(let number): return String(number)
                case .bool(let flag): return String(flag)
                default: continue
                }
            }
        }
        if try Self.anyValue(key, in: layer) {
            throw MLDeployError(code: .invalidConfiguration, message: "Invalid configuration: \(key) in \(layer.name) is a list or a section; expected \(ConfigurationKey.named(key)?.form ?? "a single value").")
        }
        return nil
    }

    /// Whether the layer has a list at `key` (a value of the wrong shape).
    private static func anyValue(_ key: String, in layer: Layer) throws -> Bool {
        let absolute = AbsoluteConfigKey(layer.prefix + key.split(separator: ".").map(String.init))
        return (try? layer.provider.value(forKey: absolute, type: .stringArray).value) != nil
    }
}
