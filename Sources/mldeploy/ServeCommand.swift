import ArgumentParser
import FileStoreBackend
import Foundation
import MLDeploy
import Logging
import OTel
import Metrics
import MLDeployConfiguration
import MLDeployCrypto
import MLDeployHTTP
import MLDeployServer
import PostgresServerState

/// `mldeploy serve`: the ML Server-compatible REST server over any backend.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the ML Server 9.x REST API over a backend (by default a filesystem store in the data directory).",
        discussion: """
            --target names the backend served, as --backend does (a client profile's target never \
            does). Each option falls back to an environment variable (MLDEPLOY_HOST, MLDEPLOY_PORT, \
            MLDEPLOY_DATA_DIR, MLDEPLOY_BACKEND), then to the config file's server section \
            (server.host, server.port, server.data_dir, server.backend). An unknown backend or a \
            busy port stops it before it creates anything. On first start with no users, the user 'admin' (Owner) \
            is created with the password in MLDEPLOY_ADMIN_PASSWORD, or a generated one printed once. \
            Python workers use MLDEPLOY_PYTHON when set. Stops gracefully on SIGINT or SIGTERM.
            """
    )

    @Option(name: .long, help: "The address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "The port (default 12800; 0 picks a free one).")
    var port: Int?

    @Option(name: .customLong("metrics-port"), help: "Serve GET /metrics on this port of its own rather than the API's (0 picks a free one).")
    var metricsPort: Int?

    @Option(name: .customLong("data-dir"), help: "Where users, keys and the default store live (default ./mldeploy-data).")
    var dataDirectory: String?

    @Option(name: .long, help: "The backend served: a registered name or a URI (default file:DATA-DIR/services). --target names it too.")
    var backend: String?

    @Option(name: .long, help: "A postgresql:// URI to keep the server's state in (users, tokens, sessions, batches' owners, nodes), shared by every node (default: the served backend's database when it is PostgreSQL, else the data directory).")
    var database: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors(span: nil) {
            // `--target` names the backend served, as `--backend` does; the configuration's `target`
            // (a client profile's, MLDEPLOY_TARGET) never does, or a profile pointing at this very
            // server would make it front itself. Its configuration keys are server.backend and
            // MLDEPLOY_BACKEND.
            if let target = self.global.target, let backend = self.backend, target != backend {
                throw ValidationError("--target and --backend both name the backend to serve, and differ ('\(target)', '\(backend)'). Give one.")
            }
            var flags: [String: String] = [:]
            if let host = self.host { flags["server.host"] = host }
            if let port = self.port { flags["server.port"] = String(port) }
            if let metricsPort = self.metricsPort { flags["server.metrics_port"] = String(metricsPort) }
            if let directory = self.dataDirectory { flags["server.data_dir"] = directory }
            if let backend = self.backend ?? self.global.target { flags["server.backend"] = backend }
            if let database = self.database { flags["server.database"] = database }
            let loaded = try await self.global.configuration(flags: flags, usingTarget: false)
            var configuration = ServerConfiguration()
            configuration.host = loaded.server.host
            configuration.port = loaded.server.port
            configuration.dataDirectory = loaded.server.dataDirectory
            configuration.apply(limitsOf: loaded.server)
            configuration.authenticators = try ServerConfiguration.authenticators(loaded.server)
            let target = DeployTarget(loaded.server.backend ?? "file:" + configuration.dataDirectory + "/services").addingOptions(loaded.pythonOptions)
            // Nothing is created — no data directory, no user, no store — until the backend is known
            // and the address is free.
            _ = try target.registration()
            let state = try Self.stateStore(database: loaded.server.database, served: loaded.server.backend, options: loaded.pythonOptions)
            try configuration.checkAddressIsFree()
            // Before any task of the server exists: NIO's hook takes the tasks enqueued after it.
            if loaded.server.executor == "event_loops", !MLDeployServer.runTasksOnEventLoops() {
                throw MLDeployError(code: .invalidConfiguration, message: "server.executor = event_loops: NIO could not make its event loops this process's task executor on this platform (or another component replaced the executor first). Use server.executor = pool.")
            }
            let settings = configuration
            // The framework's own metrics (operations, the Python pool) land in the server's
            // registry, beside its request counts: GET /metrics shows them all.
            MetricsSystem.bootstrap(settings.metrics.metricsFactory)
            // Log lines inside a traced request carry its trace_id and span_id.
            let traceMetadata = OTel.makeLoggingMetadataProvider()
            if loaded.server.logFormat == "json" {
                LoggingSystem.bootstrap({ label, provider in JSONLogHandler(label: label, metadataProvider: provider) }, metadataProvider: traceMetadata)
            } else {
                LoggingSystem.bootstrap({ label, provider in StreamLogHandler.standardOutput(label: label, metadataProvider: provider) }, metadataProvider: traceMetadata)
            }
            let format = self.global.format
            let environment = ProcessInfo.processInfo.environment
            // The served backend gets the configured credentials and HTTP settings too, so a server
            // can front another one (`--backend mlserver+https://…`).
            let middleware = loaded.operationMiddleware(default: [TracingOperationMiddleware(), MetricsOperationMiddleware(), LoggingOperationMiddleware()])
            try await withDeployClient(target: target, auth: loaded.auth, providers: [HTTPClientProvider(configuration: loaded.http)], middleware: middleware) { client in
                let server = try MLDeployServer(client: client, configuration: settings, state: state)
                defer { Task { await state?.close() } }
                // A host that cannot confine published code stops the server before any user exists.
                try await server.checkConfinement()
                try await Self.bootstrapAdmin(server.users, environment: environment, format: format)
                try await server.run { port in
                    let url = "http://\(settings.host):\(port)"
                    let metricsPort = server.metricsPort
                    if format == .json {
                        var event: JSONObject = ["event": "listening", "url": .string(url), "port": .integer(port), "backend": .string("\(client.configuration)"), "dataDirectory": .string(settings.dataDirectory)]
                        event["executor"] = .string(MLDeployServer.tasksRunOnEventLoops ? "event_loops" : "pool")
                        if let metricsPort { event["metricsPort"] = .integer(metricsPort) }
                        try? Output.json(.object(event))
                    } else {
                        let metrics = metricsPort.map { "; metrics on http://\(settings.host):\($0)/metrics" } ?? ""
                        let executor = MLDeployServer.tasksRunOnEventLoops ? "; tasks on the event loops" : ""
                        print("mldeploy serve: listening on \(url) (backend \(client.configuration), data \(settings.dataDirectory))\(metrics)\(executor)")
                    }
                    fflush(nil)  // tools and tests wait for this line on a pipe
                }
            }
        }
    }

    /// Where the server keeps its state: the `--database` URI, else the served backend's database
    /// when it is PostgreSQL (`nil`: the data directory).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` for a database URI that is not
    ///   `postgresql://` or `postgres://`, or is malformed.
    static func stateStore(database: String?, served: String?, options: [String: String]) throws -> (any ServerStateStore)? {
        if let database {
            guard database.hasPrefix("postgresql:") || database.hasPrefix("postgres:") else {
                throw MLDeployError(code: .invalidTarget, message: "--database takes a postgresql:// URI (postgresql://USER@HOST:PORT/DATABASE), not '\(database)'.")
            }
            return try PostgresServerState(uri: database, options: options)
        }
        if let served, served.lowercased().hasPrefix("postgresql:") || served.lowercased().hasPrefix("postgres:") {
            return try PostgresServerState(uri: served, options: options)
        }
        return nil
    }

    /// Creates `admin` (Owner) when there are no users: with MLDEPLOY_ADMIN_PASSWORD, or a generated
    /// password printed once.
    /// Several nodes starting at once on one database create it once: the check for no users and
    /// the add are one transaction.
    static func bootstrapAdmin(_ users: UserStore, environment: [String: String], format: OutputFormat) async throws {
        guard await users.isEmpty else { return }
        let given = environment["MLDEPLOY_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        let password = given ?? Base64Password.generate()
        guard try await users.add("admin", password: password, role: .owner, onlyIfNoUsers: true) else { return }
        if format == .json {
            var event: JSONObject = ["event": "user-created", "user": "admin", "role": "Owner"]
            if given == nil { event["generatedPassword"] = .string(password) }
            try Output.json(.object(event))
        } else if given != nil {
            print("mldeploy serve: created user 'admin' (Owner) with the password from MLDEPLOY_ADMIN_PASSWORD")
        } else {
            print("mldeploy serve: created user 'admin' (Owner) with the generated password: \(password)")
            print("mldeploy serve: it is not shown again; change users with 'mldeploy users'")
        }
        fflush(nil)
    }
}

/// Random passwords for generated accounts: 18 random bytes as URL-safe base64 (24 characters).
enum Base64Password {
    static func generate() -> String {
        Data(SecureRandom.bytes(18)).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
