import MLDeploy
import Testing

@Suite("Backend registry and targets")
struct BackendRegistryTests {
    func registry() throws -> BackendRegistry {
        let registry = BackendRegistry()
        try registry.register(
            BackendRegistration(ProbeBackend.self, name: "MLServer", aliases: ["azureml.deploy.server.MLServer"], uriSchemes: ["mlserver+http", "mlserver+https"], summary: "probe as MLServer")
        )
        try registry.register(BackendRegistration(ProbeBackend.self, name: "memory", uriSchemes: ["memory"], summary: "probe as memory"))
        return registry
    }

    @Test("resolves names ignoring case, aliases, and URI schemes", arguments: [
        "MLServer", "mlserver", "MLSERVER", "azureml.deploy.server.MLServer", "AzureML.Deploy.Server.MLServer",
        "mlserver+http://localhost:12800", "MLServer+HTTPS://host", "memory", "memory:",
    ])
    func resolves(target: String) async throws {
        let client = try await DeployClient(target: DeployTarget(target), registry: try self.registry())
        defer { Task { try await client.shutdown() } }
        let expected = target.lowercased().hasPrefix("memory") ? "memory" : "MLServer"
        #expect(client.configuration.backendName == expected)
        if target.contains(":") {
            #expect(client.configuration.uri?.scheme == target.prefix { $0 != ":" }.lowercased())
        }
        try await client.shutdown()
    }

    @Test("passes host, options and URI to the factory")
    func configuration() async throws {
        let registry = try self.registry()
        try await withDeployClient(target: .named("mlserver", host: "http://h:1", options: ["k": "v"]), registry: registry) { client in
            let probe = try #require(client.backend as? ProbeBackend)
            #expect(probe.configuration == BackendConfiguration(backendName: "MLServer", host: "http://h:1", options: ["k": "v"]))
        }
        try await withDeployClient(target: "mlserver+http://h:12800/base", registry: registry) { client in
            let uri = try #require(client.configuration.uri)
            #expect(uri.scheme == "mlserver+http" && uri.remainder == "//h:12800/base" && uri.authority == "h:12800")
        }
    }

    @Test("addingOptions merges into a named, URI or type target's options, the new value winning")
    func addingOptions() async throws {
        let registry = try self.registry()
        let targets: [DeployTarget] = [
            .named("mlserver", options: ["k": "old", "keep": "1"]), .uri("mlserver+http://h:1", options: ["k": "old", "keep": "1"]),
            .backend(ProbeBackend.self, options: ["k": "old", "keep": "1"]),
        ]
        for target in targets {
            try await withDeployClient(target: target.addingOptions(["k": "new", "added": "2"]), registry: registry) { client in
                #expect(client.configuration.options == ["k": "new", "keep": "1", "added": "2"], "\(target)")
            }
        }
        let instance = try ProbeBackend(configuration: BackendConfiguration(backendName: "probe"))
        #expect((DeployTarget.backend(instance).addingOptions(["k": "v"])).description == "ProbeBackend")
    }

    @Test("an unknown name lists what is registered and how to add a backend")
    func unknownName() async throws {
        let registry = try self.registry()
        let error = await #expect(throws: MLDeployError.self) { try await DeployClient(target: "nope", registry: registry) }
        #expect(error?.code == .unknownBackend)
        #expect(error?.message.contains("memory (memory:); MLServer (azureml.deploy.server.MLServer, mlserver+http:, mlserver+https:)") == true)
        #expect(error?.message.contains("register a backend of your own") == true)
    }

    @Test("an unregistered built-in names the module that provides it")
    func builtInHint() async throws {
        let error = await #expect(throws: MLDeployError.self) { try await DeployClient(target: "file:./services", registry: BackendRegistry()) }
        #expect(error?.code == .unknownBackend)
        #expect(error?.message.contains("FileStoreBackend") == true)
        #expect(error?.message.contains("Nothing is registered yet") == true)
    }

    @Test("refuses names and schemes another backend owns; re-registering a name replaces it")
    func clashes() throws {
        let registry = try self.registry()
        #expect(throws: MLDeployError.self) { try registry.register(BackendRegistration(name: "other", aliases: ["MEMORY"], summary: "") { _ in ProbeBackend() }) }
        #expect(throws: MLDeployError.self) { try registry.register(BackendRegistration(name: "other", uriSchemes: ["memory"], summary: "") { _ in ProbeBackend() }) }
        try registry.register(BackendRegistration(name: "Memory", uriSchemes: ["memory", "mem"], summary: "replacement") { _ in ProbeBackend() })
        #expect(registry.all.map(\.name) == ["Memory", "MLServer"])
        #expect(registry.registration(forScheme: "MEM")?.summary == "replacement")
        #expect(registry.unregister("azureml.deploy.server.mlserver"))
        #expect(registry.registration(named: "MLServer") == nil)
    }

    @Test("reads strings as URIs only when they start with a scheme", arguments: [
        ("memory:", true), ("file:./services", true), ("mlserver+http://h:1", true), ("MLServer", false),
        ("azureml.deploy.server.MLServer", false), ("1abc:x", false), (":x", false),
    ])
    func targetParsing(text: String, isURI: Bool) {
        #expect(TargetURI.looksLikeURI(text) == isURI)
    }

    @Test("malformed URIs and failing factories give typed errors")
    func badTargets() async throws {
        let registry = try self.registry()
        await #expect { try await DeployClient(target: .uri(":nothing"), registry: registry) } throws: { ($0 as? MLDeployError)?.code == .invalidTarget }
        await #expect { try await DeployClient(target: .named("memory", options: ["fail": "yes"]), registry: registry) } throws: {
            ($0 as? MLDeployError)?.code == .invalidArgument
        }
        await #expect { try await DeployClient(target: .backend(ProbeBackend.self, options: ["fail": "yes"])) } throws: { _ in true }
    }
}
