import Foundation
import Synchronization

/// A private PostgreSQL cluster for tests: `initdb` into a temporary directory, `postgres` on a free
/// loopback port, trust authentication for the superuser `mldeploy`. One cluster per test process,
/// started on first use; it dies with the process (it runs under ``ChildProcess``'s guard). Each
/// test takes a fresh database of its own (``makeDatabase(_:)``).
///
/// `initdb` refuses to run as root, so as root the cluster runs as the `postgres` user (Debian's
/// `postgresql` package makes it), through `setpriv`.
public final class PostgresServer: Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its data directory (also the directory of its Unix socket).
    public let directory: String
    /// The superuser tests connect as.
    public let user = "mldeploy"
    private let process: Mutex<ChildProcess>
    private let binaries: String
    /// Whether a commit is acknowledged only once its WAL is written (a killed server then loses
    /// nothing acknowledged; `fsync` stays off — the machine does not crash in a test).
    private let durable: Bool

    private static let starting = StartOnce()

    /// The process's cluster, started on first use.
    public static func shared() async throws -> PostgresServer {
        try await Self.starting.server()
    }

    private init(port: Int, directory: String, binaries: String, process: ChildProcess, durable: Bool) {
        self.durable = durable
        self.port = port
        self.directory = directory
        self.binaries = binaries
        self.process = Mutex(process)
    }

    /// A cluster of the caller's own (for tests that stop and start it), stopped with ``stop()``.
    /// Its commits survive ``stop()``.
    public static func startPrivate() async throws -> PostgresServer {
        try await Self.start(durable: true)
    }

    /// Stops the server at once (SIGKILL of the postmaster: a crash, as far as clients can tell).
    public func stop() {
        self.process.withLock { $0.stop() }
    }

    /// Starts the server again on the same directory and port.
    /// (The killed server's backends notice its death within moments; until then a new postmaster
    /// refuses the directory, so starting is retried for a few seconds.)
    public func restart() async throws {
        var attempt = 0
        while true {
            attempt += 1
            let process = try Self.launch(binaries: self.binaries, directory: self.directory, port: self.port, durable: self.durable)
            do {
                _ = try await process.waitForLine { $0.contains("ready to accept connections") }
                self.process.withLock { $0 = process }
                return
            } catch where attempt < 10 {
                process.stop()
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// `postgresql://mldeploy@127.0.0.1:PORT/NAME`.
    public func uri(database name: String) -> String {
        "postgresql://\(self.user)@127.0.0.1:\(self.port)/\(name)?sslmode=disable"
    }

    /// Creates an empty database (a unique name from `label`) and returns its URI.
    public func makeDatabase(_ label: String) async throws -> String {
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(UUID().uuidString.prefix(8).lowercased())"
        try await self.sql("CREATE DATABASE \(name)")
        return self.uri(database: name)
    }

    /// Runs SQL with `psql` in database `database`; returns its output (unaligned, tuples only).
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") async throws -> String {
        let result = try await runToCompletion(
            self.binaries + "/psql", ["-h", "127.0.0.1", "-p", String(self.port), "-U", self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement]
        )
        guard result.status == 0 else { throw TestFailure("psql \(statement): \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Serializes the first start.
    private actor StartOnce {
        private var task: Task<PostgresServer, any Error>?

        func server() async throws -> PostgresServer {
            if let task { return try await task.value }
            let task = Task { try await PostgresServer.start(durable: false) }
            self.task = task
            return try await task.value
        }
    }

    /// The newest installed PostgreSQL's `bin` directory.
    private static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else {
            throw TestFailure("no PostgreSQL under \(root): install Debian's postgresql (scripts/bootstrap.sh does)")
        }
        return "\(root)/\(newest)/bin"
    }

    private static func start(durable: Bool) async throws -> PostgresServer {
        let binaries = try Self.findBinaries()
        let asRoot = getuid() == 0
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-pg-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // As root, everything runs as `postgres`, which must own the directory.
        let prefix = asRoot ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []
        if asRoot {
            let owned = try await runToCompletion("/bin/chown", ["postgres:postgres", directory])
            guard owned.status == 0 else { throw TestFailure("chown postgres \(directory): \(owned.output)") }
        }
        let initdb = prefix + [binaries + "/initdb", "-D", directory, "-U", "mldeploy", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C"]
        let made = try await runToCompletion(initdb[0], Array(initdb.dropFirst()), directory: URL(fileURLWithPath: "/tmp"))
        guard made.status == 0 else { throw TestFailure("initdb: \(made.output)") }
        let port = try freePort()
        let process = try Self.launch(binaries: binaries, directory: directory, port: port, durable: durable)
        _ = try await process.waitForLine { $0.contains("ready to accept connections") }
        return PostgresServer(port: port, directory: directory, binaries: binaries, process: process, durable: durable)
    }

    /// Starts `postgres` on `directory` and `port` (as the `postgres` user when this is root).
    private static func launch(binaries: String, directory: String, port: Int, durable: Bool) throws -> ChildProcess {
        let prefix = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []
        let command = prefix + [
            binaries + "/postgres", "-D", directory, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=\(durable ? "on" : "off")", "-c", "full_page_writes=off", "-c", "max_connections=500",
        ]
        return try ChildProcess(command[0], Array(command.dropFirst()), name: "postgres")
    }
}
