import Foundation
import MLDeploy

/// Where a ``PostgresBackend`` connects, read from a libpq-style URI and the target's options.
///
/// `postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE` (or `postgres://…`); the host may be
/// a Unix-socket directory (`postgresql:///db?host=/var/run/postgresql`). The password need not sit
/// in the URI: the `password` option, the `password_file` option, `MLDEPLOY_DATABASE_PASSWORD`,
/// `MLDEPLOY_DATABASE_PASSWORD_FILE` and `PGPASSWORD` are tried in that order.
public struct PostgresSettings: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is encrypted, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is verified (`require`, `verify-ca`, `verify-full`).
        case require
    }

    /// The host name or address, or a Unix-socket directory (starting with `/`).
    public var host: String
    /// The port (5432 by default).
    public var port: Int
    /// The user to connect as.
    public var username: String
    /// The password, if any.
    public var password: String?
    /// The database.
    public var database: String
    /// TLS.
    public var tls: TLSMode
    /// How long a read (or opening the database) may take before it fails as `unreachable`
    /// (`?timeout=SECONDS` or the `timeout` option; 30 s): while the database is down, calls fail
    /// after this instead of hanging. Writes get twenty times as long (they may carry large objects).
    public var timeout: Duration = .seconds(30)

    /// Settings given directly.
    public init(host: String = "127.0.0.1", port: Int = 5432, username: String, password: String? = nil, database: String, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Reads `uri` (its part after `postgresql:` or `postgres:`) and `options`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` naming what is wrong with the URI.
    public init(uri remainder: String, options: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func invalid(_ why: String) -> MLDeployError {
            MLDeployError(code: .invalidTarget, message: "Invalid PostgreSQL target: \(why). Write postgresql://USER:PASSWORD@HOST:PORT/DATABASE (password optional: see the password_file option).")
        }
        guard let components = URLComponents(string: "postgresql:" + remainder) else { throw invalid("'\(remainder)' is not a URI") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        var host = components.percentEncodedHost.flatMap { $0.removingPercentEncoding } ?? ""
        if let socket = query["host"] { host = socket }
        if host.isEmpty { host = options["host"] ?? "127.0.0.1" }
        let port = components.port ?? query["port"].flatMap(Int.init) ?? options["port"].flatMap(Int.init) ?? 5432
        guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
        let database = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard let database = [database, query["dbname"] ?? "", options["database"] ?? ""].first(where: { !$0.isEmpty }) else {
            throw invalid("no database named")
        }
        let user = components.user?.removingPercentEncoding ?? query["user"] ?? options["user"] ?? environment["PGUSER"]
        guard let user, !user.isEmpty else { throw invalid("no user named") }
        let mode = query["sslmode"] ?? options["sslmode"] ?? "prefer"
        let tls: TLSMode
        switch mode {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw invalid("sslmode '\(mode)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        var password = components.password?.removingPercentEncoding ?? options["password"]
        if password == nil {
            for file in [options["password_file"], environment["MLDEPLOY_DATABASE_PASSWORD_FILE"]].compactMap({ $0 }) {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw invalid("the password file \(file) cannot be read")
                }
                password = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
        }
        password = password ?? environment["MLDEPLOY_DATABASE_PASSWORD"] ?? environment["PGPASSWORD"]
        self.init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        if let text = query["timeout"] ?? options["timeout"] {
            guard let seconds = Double(text), seconds > 0, seconds.isFinite else { throw invalid("timeout '\(text)' is not a positive number of seconds") }
            self.timeout = .milliseconds(Int64(seconds * 1000))
        }
    }

    /// Whether ``host`` is a Unix-socket directory.
    public var isUnixSocket: Bool { self.host.hasPrefix("/") }

    /// The socket file in that directory (`DIR/.s.PGSQL.PORT`, as libpq names it), or ``host``
    /// itself when it already names the file.
    public var socketPath: String {
        let file = ".s.PGSQL.\(self.port)"
        return self.host.hasSuffix(file) ? self.host : self.host + "/" + file
    }

    /// `postgresql://USER@HOST:PORT/DATABASE`, never the password.
    public var description: String {
        self.isUnixSocket
            ? "postgresql://\(self.username)@/\(self.database)?host=\(self.host)"
            : "postgresql://\(self.username)@\(self.host):\(self.port)/\(self.database)"
    }
}
