import ArgumentParser
import Foundation
import MLDeploy

/// `mldeploy list`: services, all or by name (oldest version first).
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List services: all, the versions of one, or one version.")

    @Argument(help: "A service name.")
    var name: String?

    @Option(name: .long, help: "A version (with a name).")
    var version: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let services = try await withConfiguredClient(self.global) { try await $0.listServices(self.name, version: self.version) }
            switch self.global.format {
            case .json: try Output.json(.array(services.map { $0.webServiceJSON() }))
            case .text:
                Output.table(["NAME", "VERSION", "RUNTIME", "ALIAS", "DESCRIPTION"], services.map { info in
                    [info.name, info.version, info.runtime.rawValue, info.operationID ?? "", info.description ?? ""]
                })
            }
        }
    }
}

/// `mldeploy get`: one version (the latest without `--version`).
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a service version (the latest without --version).")

    @OptionGroup var service: ServiceVersionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let service = try await withConfiguredClient(self.global) { try await self.service.service($0) }
            try printService(service.info, format: self.global.format)
        }
    }
}

/// `mldeploy swagger`: a version's swagger 2.0 document.
struct SwaggerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "swagger", abstract: "Print a service version's swagger.json.")

    @OptionGroup var service: ServiceVersionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            try Output.json(try await withConfiguredClient(self.global) { try await self.service.service($0).swagger() })
        }
    }
}

/// `mldeploy openapi`: a service version's API as OpenAPI 3.0, for swift-openapi-generator.
struct OpenAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi", abstract: "Print a service version's API as an OpenAPI 3.0 document (for generating typed clients)."
    )

    @OptionGroup var service: ServiceVersionOptions

    @Option(name: .customLong("server-url"), help: "The base URL to name in the document's servers (default: none).")
    var serverURL: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            try Output.json(try await withConfiguredClient(self.global) { try await self.service.service($0).openAPI(serverURL: self.serverURL) })
        }
    }
}

/// `mldeploy delete`: remove a version.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a service version.")

    @Argument(help: "The service name.")
    var name: String

    @Option(name: .long, help: "The version (required).")
    var version: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            try await withConfiguredClient(self.global) { try await $0.deleteService(self.name, version: self.version) }
            if self.global.format == .json { try Output.json(["deleted": ["name": .string(self.name), "version": .string(self.version)]]) } else { print("deleted \(self.name) \(self.version)") }
        }
    }
}

/// `mldeploy consume`: call a service once.
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Call a service with inputs and print its outputs.",
        discussion: """
            Inputs are NAME=VALUE arguments (VALUE is JSON, or text for character inputs), a JSON object \
            in a file (--json FILE), or a JSON object on standard input (-). A service whose code raised \
            prints its error and exits 1.
            """
    )

    @OptionGroup var service: ServiceVersionOptions

    @Argument(help: "Inputs: NAME=VALUE …, or - to read a JSON object from standard input.")
    var inputs: [String] = []

    @Option(name: .long, help: "A file holding the inputs as a JSON object.")
    var json: String?

    @Option(name: .customLong("save-artifacts"), help: "Write the artifacts the call returns into this directory (created if missing).")
    var saveArtifacts: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let response = try await withConfiguredClient(self.global) { client in
                let service = try await self.service.service(client)
                return try await service.consume(try self.values(for: service.info))
            }
            let saved = try self.saveArtifacts.map { try Self.save(response, into: $0) } ?? []
            if self.global.format == .json {
                // Everything the response has, in ML Server's WebServiceResult shape.
                try Output.json(response.webServiceResultJSON())
            }
            guard response.success else {
                if self.global.format == .text {
                    if !response.consoleOutput.isEmpty { FileHandle.standardError.write(Data(response.consoleOutput.utf8)) }
                    FileHandle.standardError.write(Data("error[service-failed]: \(response.errorMessage ?? "the service failed")\n".utf8))
                }
                throw ExitCode(1)
            }
            guard self.global.format == .text else { return }
            // What the service printed goes to standard error, so standard output stays its outputs.
            if !response.consoleOutput.isEmpty { FileHandle.standardError.write(Data(response.consoleOutput.utf8)) }
            for definition in response.outputSchema {
                print("\(definition.name): \(response.output(definition.name).map(Output.text) ?? "null")")
            }
            if !saved.isEmpty {
                print("artifacts saved: \(saved.joined(separator: ", "))")
            } else if !response.artifactNames.isEmpty {
                print("artifacts: \(response.artifactNames.joined(separator: ", ")) (--save-artifacts DIR writes them)")
            }
        }
    }

    /// Writes the response's artifacts into `directory`; returns the paths written. A name that is
    /// not a plain file name (a server could send `../x`) is refused before anything is written.
    static func save(_ response: ServiceResponse, into directory: String) throws -> [String] {
        for name in response.artifactNames where name.isEmpty || name.contains("/") || name == "." || name == ".." {
            throw MLDeployError(code: .invalidArtifact, message: "The artifact name '\(name)' is not a plain file name; nothing was saved.")
        }
        let decoded = try response.artifactNames.map { name in (name, try response.artifact(name) ?? Data()) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Cannot create the artifacts directory '\(directory)': \(error.localizedDescription)")
        }
        return try decoded.map { name, data in
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw MLDeployError(code: .storageFailure, message: "Cannot write the artifact \(path): \(error.localizedDescription)")
            }
            return path
        }
    }

    /// The inputs, typed by the service's schema.
    func values(for info: ServiceInfo) throws -> [String: MLValue] {
        let types = Dictionary(uniqueKeysWithValues: info.inputs.map { ($0.name, $0.type) })
        var object = JSONObject()
        if let path = self.json {
            object = try Self.object(try readFile(path, what: "inputs file"), source: path)
        } else if self.inputs == ["-"] {
            object = try Self.object(FileHandle.standardInput.readDataToEndOfFile(), source: "standard input")
        } else {
            for item in self.inputs {
                let (name, text) = try keyValue(item, option: "an input")
                guard let type = types[name] else {
                    throw MLDeployError(code: .inputMismatch, message: "Service '\(info.name)' has no input '\(name)'. Its inputs: \(info.inputs.map(\.name).joined(separator: ", ")).")
                }
                object[name] = type == .character && (try? JSONValue(parsing: Data(text.utf8)))?.stringValue == nil ? .string(text) : try Self.parse(text, input: name, type: type)
            }
        }
        var values: [String: MLValue] = [:]
        for member in object {
            guard let type = types[member.key] else {
                throw MLDeployError(code: .inputMismatch, message: "Service '\(info.name)' has no input '\(member.key)'. Its inputs: \(info.inputs.map(\.name).joined(separator: ", ")).")
            }
            values[member.key] = try MLValue(json: member.value, as: type, parameter: member.key, direction: .input)
        }
        return values
    }

    static func object(_ data: Data, source: String) throws -> JSONObject {
        guard let object = (try? JSONValue(parsing: data))?.objectValue else {
            throw MLDeployError.invalidArgument("The inputs in \(source) must be a JSON object of NAME: VALUE.")
        }
        return object
    }

    /// The JSON of `NAME=VALUE`'s value; text that is not JSON is a mismatch of the input's type.
    static func parse(_ text: String, input: String, type: ParameterType) throws -> JSONValue {
        do {
            return try JSONValue(parsing: Data(text.utf8))
        } catch {
            throw MLDeployError(
                code: .inputMismatch,
                message: "Input '\(input)' is declared \(type) but got '\(text)', which is not a JSON value. Pass \(type.jsonForms)."
            )
        }
    }
}
