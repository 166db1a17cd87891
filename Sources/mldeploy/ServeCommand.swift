import ArgumentParser
import FileStoreBackend
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployCrypto
import MLDeployHTTP
import MLDeployServer

/// `mldeploy serve`: the ML Server-compatible REST server over any backend.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the ML Server 9.x REST API over a backend (by default a filesystem store in the data directory).",
        discussion: """
            Each option falls back to an environment variable (MLDEPLOY_HOST, MLDEPLOY_PORT, \
            MLDEPLOY_DATA_DIR, MLDEPLOY_BACKEND), then to the config file's server section \
            (server.host, server.port, server.data_dir, server.backend). On first start with no users, the user 'admin' (Owner) \
            is created with the password in MLDEPLOY_ADMIN_PASSWORD, or a generated one printed once. \
            Python workers use MLDEPLOY_PYTHON when set. Stops gracefully on SIGINT or SIGTERM.
            """
    )

    @Option(name: .long, help: "The address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "The port (default 12800; 0 picks a free one).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Where users, keys and the default store live (default ./mldeploy-data).")
    var dataDirectory: String?

    @Option(name: .long, help: "The backend: a registered name or a URI (default file:DATA-DIR/services).")
    var backend: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            var flags: [String: String] = [:]
            if let host = self.host { flags["server.host"] = host }
            if let port = self.port { flags["server.port"] = String(port) }
            if let directory = self.dataDirectory { flags["server.data_dir"] = directory }
            if let backend = self.backend { flags["server.backend"] = backend }
            let loaded = try await self.global.configuration(flags: flags)
            var configuration = ServerConfiguration()
            configuration.host = loaded.server.host
            configuration.port = loaded.server.port
            configuration.dataDirectory = loaded.server.dataDirectory
            let target = DeployTarget(loaded.server.backend ?? "file:" + configuration.dataDirectory + "/services").addingOptions(loaded.pythonOptions)
            let settings = configuration
            let environment = ProcessInfo.processInfo.environment
            // The served backend gets the configured credentials and HTTP settings too, so a server
            // can front another one (`--backend mlserver+https://…`).
            try await withDeployClient(target: target, auth: loaded.auth, providers: [HTTPClientProvider(configuration: loaded.http)]) { client in
                let server = try MLDeployServer(client: client, configuration: settings)
                try Self.bootstrapAdmin(server.users, environment: environment)
                try await server.run { port in
                    print("mldeploy serve: listening on http://\(settings.host):\(port) (backend \(client.configuration), data \(settings.dataDirectory))")
                    fflush(nil)  // tools and tests wait for this line on a pipe
                }
            }
        }
    }

    /// Creates `admin` (Owner) when there are no users: with MLDEPLOY_ADMIN_PASSWORD, or a generated
    /// password printed once.
    static func bootstrapAdmin(_ users: UserStore, environment: [String: String]) throws {
        guard users.isEmpty else { return }
        if let password = environment["MLDEPLOY_ADMIN_PASSWORD"], !password.isEmpty {
            try users.add("admin", password: password, role: .owner)
            print("mldeploy serve: created user 'admin' (Owner) with the password from MLDEPLOY_ADMIN_PASSWORD")
        } else {
            let password = Base64Password.generate()
            try users.add("admin", password: password, role: .owner)
            print("mldeploy serve: created user 'admin' (Owner) with the generated password: \(password)")
            print("mldeploy serve: it is not shown again; change users with 'mldeploy users'")
            fflush(nil)
        }
    }
}

/// Random passwords for generated accounts: 18 random bytes as URL-safe base64 (24 characters).
enum Base64Password {
    static func generate() -> String {
        Data(SecureRandom.bytes(18)).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
