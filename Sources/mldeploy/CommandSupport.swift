import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration

/// Runs `body` with a client for the configured target (flags > environment > config file), using
/// the token `mldeploy login` cached for it when no other credentials are configured, and shuts the
/// client down afterwards.
func withConfiguredClient<T>(_ global: GlobalOptions, _ body: (DeployClient) async throws -> T) async throws -> T {
    var configuration = try await global.configuration()
    if configuration.auth == nil, let target = configuration.target, let token = try TokenCache().token(for: target) {
        configuration.auth = .accessToken(token)
    }
    let client = try await configuration.makeClient()
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// The service version a command works on: a name, and a version (the latest when absent).
struct ServiceVersionOptions: ParsableArguments {
    @Argument(help: "The service name.")
    var name: String

    @Option(name: .long, help: "The version (the latest when absent).")
    var version: String?

    /// The version, from `client`.
    func service(_ client: DeployClient) async throws -> Service {
        try await client.getService(self.name, version: self.version)
    }
}

/// Printing results: human tables by default, JSON with `--format json`.
enum Output {
    /// Prints `value` as one line of JSON (for tools: `jq`, scripts).
    static func json(_ value: JSONValue) throws {
        print(try value.serialized())
    }

    /// Prints rows under a header, columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }

    /// A short text form of a value for tables and `name: value` lines.
    static func text(_ value: MLValue) -> String {
        switch value {
        case .null: return "null"
        case .integer(let number): return String(number)
        case .numeric(let number): return String(number)
        case .character(let text): return text
        case .logical(let flag): return flag ? "true" : "false"
        default: return (try? value.jsonValue().serialized()) ?? "\(value)"
        }
    }
}

/// Reads a file given on the command line, with a clear error.
func readFile(_ path: String, what: String) throws -> Data {
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw MLDeployError.invalidArgument("Cannot read the \(what) '\(path)': \(error.localizedDescription)")
    }
}

/// Splits `NAME=VALUE`.
func keyValue(_ text: String, option: String) throws -> (String, String) {
    guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
        throw MLDeployError.invalidArgument("\(option) takes NAME=VALUE, not '\(text)'.")
    }
    return (String(text[..<equals]), String(text[text.index(after: equals)...]))
}
