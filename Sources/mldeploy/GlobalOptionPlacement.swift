import ArgumentParser

/// Lets the global options (`--target`, `--config`, `--profile`, `--format`) stand before the
/// command as well as after it, the way `git -C DIR status` and `kubectl --context C get` read.
///
/// ArgumentParser parses a subcommand's options only after the subcommand's name, and it treats
/// any `--version` it cannot place as the tool's version flag — so `mldeploy --target file:./s
/// deploy Add --version 1 …` once printed `0.1.0` and exited 0 without deploying. This step runs
/// before ArgumentParser: it moves the global options written before the command to after it,
/// refuses the same option given twice with different values, and answers `mldeploy --version`
/// itself (only when it stands alone), so a command's own `--version V` is always that command's.
enum GlobalOptionPlacement {
    /// The global options, by their long name.
    static let names: Set<String> = ["--target", "--config", "--profile", "--format"]

    /// What the command line asks for once the global options are placed.
    enum Arrangement: Equatable {
        /// Print the tool's version (`mldeploy --version`).
        case version
        /// Parse and run these arguments.
        case command([String])
    }

    /// Places the global options of `arguments` (the command line without the program name).
    ///
    /// - Throws: `ValidationError` (a usage error, exit 64) for a global option without its value,
    ///   one given twice with different values, global options with no command after them, or
    ///   `--version` combined with anything else.
    static func arrange(_ arguments: [String]) throws -> Arrangement {
        var leading: [(name: String, value: String)] = []
        var index = 0
        while index < arguments.count, let (name, value, width) = try Self.globalOption(in: arguments, at: index) {
            leading.append((name, value))
            index += width
        }
        let rest = Array(arguments[index...])
        if rest.first == "--version" {
            guard leading.isEmpty, rest == ["--version"] else {
                throw ValidationError("--version prints the tool's version and takes nothing else. A command's version goes after the command: mldeploy deploy NAME --version V …")
            }
            return .version
        }
        guard !leading.isEmpty else { return .command(arguments) }
        guard let command = rest.first, !command.hasPrefix("-") || command == "--help" || command == "-h" else {
            throw ValidationError("\(leading.map(\.name).joined(separator: " ")) given, but no command. Name one: mldeploy \(leading.map { "\($0.name) \($0.value)" }.joined(separator: " ")) list")
        }
        if command == "--help" || command == "-h" || command == "help" { return .command(rest) }

        // The options written after the command, up to a `--` (after which nothing is an option).
        let end = rest.firstIndex(of: "--") ?? rest.count
        var later: [String: String] = [:]
        var position = 1
        while position < end {
            if let (name, value, width) = try Self.globalOption(in: Array(rest[..<end]), at: position) {
                if let earlier = later[name], earlier != value {
                    throw ValidationError("\(name) is given twice, as '\(earlier)' and '\(value)'. Give it once.")
                }
                later[name] = value
                position += width
            } else {
                position += 1
            }
        }
        var moved: [String] = []
        var seen: [String: String] = [:]
        for (name, value) in leading {
            if let earlier = seen[name] ?? later[name] {
                guard earlier == value else {
                    throw ValidationError("\(name) is given twice, as '\(value)' and '\(earlier)'. Give it once.")
                }
                if later[name] != nil || seen[name] != nil { continue }
            }
            seen[name] = value
            moved += [name, value]
        }
        return .command(Array(rest[..<end]) + moved + Array(rest[end...]))
    }

    /// The global option at `index` — its name, value and how many arguments it spans — or `nil`
    /// when the argument there is not a global option.
    private static func globalOption(in arguments: [String], at index: Int) throws -> (String, String, Int)? {
        let argument = arguments[index]
        if let equals = argument.firstIndex(of: "="), Self.names.contains(String(argument[..<equals])) {
            return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]), 1)
        }
        guard Self.names.contains(argument) else { return nil }
        guard index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") else {
            throw ValidationError("\(argument) needs a value: \(argument) \(Self.valueHint[argument] ?? "VALUE").")
        }
        return (argument, arguments[index + 1], 2)
    }

    private static let valueHint = ["--target": "URI|NAME", "--config": "FILE", "--profile": "NAME", "--format": "text|json"]
}
