import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployServer
import PostgresServerState

/// `mldeploy users add|remove|list|set-role`: the server's users, in its data directory.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the users of 'mldeploy serve' (in the data directory, or with --target postgresql://… in the database several nodes share; running servers see changes at once).",
        subcommands: [Add.self, Remove.self, List.self, SetRole.self]
    )

    /// The data directory option every subcommand shares.
    struct DataDirectory: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "The server's data directory (default $MLDEPLOY_DATA_DIR, the config file's server.data_dir, or ./mldeploy-data).")
        var path: String?

        @OptionGroup var global: GlobalOptions

        /// The data directory's user store. Only `users add` creates a missing directory (so users
        /// can be made before the first `serve`); the other commands refuse one that does not exist
        /// rather than leaving an empty directory behind a typo.
        func store(creating: Bool = false) async throws -> UserStore {
            // Shared users live in the nodes' database: `--target postgresql://…` (or server.database).
            if let target = self.global.target, target.lowercased().hasPrefix("postgresql:") || target.lowercased().hasPrefix("postgres:") {
                guard self.path == nil else {
                    throw ValidationError("--target \(target.prefix(while: { $0 != ":" })):… and --data-dir both say where the users are; give one.")
                }
                let configuration = try await self.global.configuration(flags: [:], usingTarget: false)
                return UserStore(store: try PostgresServerState(uri: target, options: configuration.pythonOptions))
            }
            // Otherwise they live in the server's data directory; a client target does not name one.
            try self.global.refuseUnused(["--target"], by: "users", why: "users live in the server's data directory (give it with --data-dir, MLDEPLOY_DATA_DIR or server.data_dir) or, for several nodes, in their PostgreSQL database (--target postgresql://…).")
            var flags: [String: String] = [:]
            if let path = self.path { flags["server.data_dir"] = path }
            let configuration = try await self.global.configuration(flags: flags, usingTarget: false)
            if self.path == nil, let database = configuration.server.database {
                return UserStore(store: try PostgresServerState(uri: database, options: configuration.pythonOptions))
            }
            let path = configuration.server.dataDirectory
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard creating else {
                    throw MLDeployError(
                        code: .notFound,
                        message: "There is no server data directory at \(path) (from \(configuration.sources["server.data_dir"] ?? "the default")). Give the server's with --data-dir (or MLDEPLOY_DATA_DIR, server.data_dir)."
                    )
                }
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } else if !isDirectory.boolValue {
                throw MLDeployError.invalidArgument("The server data directory \(path) is a file, not a directory.")
            }
            return try UserStore(directory: path)
        }
    }

    /// `users add NAME [--role R] [--password-stdin]`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user. The password is read from standard input with --password-stdin, else generated and printed once."
        )
        @Argument(help: "The user name.") var name: String
        @Option(name: .long, help: "Owner, Contributor or Reader (default Contributor).") var role: String = "Contributor"
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.") var passwordFromStandardInput = false
        @OptionGroup var dataDirectory: DataDirectory

        func run() async throws {
            try await reportingErrors {
                let role = try UsersCommand.role(self.role)
                var password: String
                if self.passwordFromStandardInput {
                    password = readLine(strippingNewline: true) ?? ""
                } else {
                    password = Base64Password.generate()
                }
                guard !password.isEmpty else {
                    throw MLDeployError.invalidArgument("--password-stdin read an empty password: write the password as the first line of standard input.")
                }
                try await self.dataDirectory.store(creating: true).add(self.name, password: password, role: role)
                if self.dataDirectory.global.format == .json {
                    var object: JSONObject = ["added": .string(self.name), "role": .string("\(role)")]
                    if !self.passwordFromStandardInput { object["generatedPassword"] = .string(password) }
                    try Output.json(.object(object))
                } else {
                    print(self.passwordFromStandardInput ? "added \(self.name) (\(role))" : "added \(self.name) (\(role)) with the generated password: \(password)")
                }
                password = ""
            }
        }
    }

    /// `users remove NAME`.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user; their tokens stop working at once.")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var dataDirectory: DataDirectory

        func run() async throws {
            try await reportingErrors {
                try await self.dataDirectory.store().remove(self.name)
                if self.dataDirectory.global.format == .json { try Output.json(["removed": .string(self.name)]) } else { print("removed \(self.name)") }
            }
        }
    }

    /// `users list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users and their roles.")
        @OptionGroup var dataDirectory: DataDirectory

        func run() async throws {
            try await reportingErrors {
                let users = try await self.dataDirectory.store().list()
                if self.dataDirectory.global.format == .json {
                    try Output.json(.array(users.map { ["name": .string($0.name), "role": .string("\($0.role)")] }))
                } else {
                    for user in users { print("\(user.name)\t\(user.role)") }
                }
            }
        }
    }

    /// `users set-role NAME ROLE`.
    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-role", abstract: "Change a user's role.")
        @Argument(help: "The user name.") var name: String
        @Argument(help: "Owner, Contributor or Reader.") var role: String
        @OptionGroup var dataDirectory: DataDirectory

        func run() async throws {
            try await reportingErrors {
                let role = try UsersCommand.role(self.role)
                try await self.dataDirectory.store().setRole(self.name, role)
                if self.dataDirectory.global.format == .json { try Output.json(["name": .string(self.name), "role": .string("\(role)")]) } else { print("\(self.name) is now \(role)") }
            }
        }
    }

    static func role(_ text: String) throws -> ServerRole {
        guard let role = ServerRole(spelling: text) else {
            throw MLDeployError.invalidArgument("Unknown role '\(text)': use Owner, Contributor or Reader.")
        }
        return role
    }
}
