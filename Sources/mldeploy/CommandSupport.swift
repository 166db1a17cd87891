import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLServerBackend

/// Runs `body` with a client for the configured target (flags > environment > config file), and
/// shuts the client down afterwards.
///
/// A session `mldeploy login` cached for the target stands in for a login: with a password
/// configured for the same user it is tried first (the password only when the server refuses it);
/// with no password, or only a user name, it is the credentials. A renewed session is cached again.
/// Without a cached session, a command that logs in with a password revokes its refresh token when
/// it ends (the MLServer backend does), so commands leave no tokens behind.
func withConfiguredClient<T>(_ global: GlobalOptions, _ body: (DeployClient) async throws -> T) async throws -> T {
    var configuration = try await global.configuration()
    let cache = TokenCache()
    var resumed: AuthSession?
    if let target = configuration.target, let session = try cache.session(for: target) {
        let sameUser = { (user: String) in session.username == nil || session.username == user }
        if let (user, _) = configuration.auth?.passwordCredentials, sameUser(user) {
            resumed = session
            configuration.auth = configuration.auth?.resuming(session)
        } else if configuration.auth == nil, configuration.usernameWithoutPassword.map(sameUser) ?? true {
            resumed = session
            configuration.auth = AuthContext.accessToken(session.accessToken).resuming(session)
        }
    }
    let client = try await configuration.makeClient()
    func recache() {
        guard let resumed, let target = configuration.target, var now = (client.backend as? MLServerBackend)?.session, now.accessToken != resumed.accessToken else { return }
        now.username = resumed.username
        try? cache.store(now, for: target)
    }
    do {
        let result = try await body(client)
        recache()
        try await client.shutdown()
        return result
    } catch {
        recache()
        try? await client.shutdown()
        throw error
    }
}

/// Warns on standard error that what a command published to an in-memory target is gone when the
/// command exits (`memory:` is the default with no configuration).
func warnIfEphemeral(_ client: DeployClient, what: String) {
    guard client.configuration.backendName.lowercased() == "memory" else { return }
    FileHandle.standardError.write(Data("warning: \(what) went to the in-memory target (memory:), which lives only as long as this command: it is gone now. Deploy to a file: target or a server to keep it (--target file:./services).\n".utf8))
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
