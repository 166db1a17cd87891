import Foundation
import InMemoryBackend
import MLDeploy
import MLDeployConfiguration
import MLDeployHTTP
import MLDeployTestSupport
import ServiceRuntime
import Testing

@Suite("Configuration: sources, precedence, profiles and errors")
struct DeployConfigurationTests {
    /// A scratch directory with `files` written into it (relative paths).
    func directory(_ files: [String: String]) throws -> URL {
        let directory = try temporaryDirectory("config")
        for (path, text) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    func load(_ directory: URL, flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil, profile: String? = nil) async throws -> DeployConfiguration {
        try await DeployConfiguration.load(
            flags: flags, environment: environment, configFile: file, profile: profile,
            currentDirectory: directory.path, home: directory.appendingPathComponent("home").path
        )
    }

    @Test("flags beat the environment, which beats the file, which beats the defaults")
    func precedence() async throws {
        let root = try self.directory(["mldeploy.yaml": "target: file:/from-file\nserver:\n  port: 9000\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let all = try await self.load(root, flags: ["target": "file:/from-flag"], environment: ["MLDEPLOY_TARGET": "file:/from-env"])
        #expect(all.target == "file:/from-flag" && all.sources["target"] == "the command line")
        let noFlag = try await self.load(root, environment: ["MLDEPLOY_TARGET": "file:/from-env"])
        #expect(noFlag.target == "file:/from-env" && noFlag.sources["target"] == "the environment")
        let fileOnly = try await self.load(root)
        #expect(fileOnly.target == "file:/from-file" && fileOnly.server.port == 9000 && fileOnly.file == root.appendingPathComponent("mldeploy.yaml").path)
        let empty = try await self.load(try self.directory([:]))
        #expect(empty.target == nil && empty.server.port == 12800 && empty.auth == nil && empty.file == nil)
    }

    @Test("profiles switch target and credentials; the environment still wins; unknown profiles are errors")
    func profiles() async throws {
        let yaml = """
            target: file:./services
            auth:
              username: local
              password: local-secret
            profiles:
              dev:
                target: "memory:"    # a value ending in ':' needs quotes in YAML
              prod:
                target: mlserver+https://ml.example.com:12800
                auth:
                  username: deployer
                  password_file: secret.txt
                http:
                  timeout:
                    consume: 2.5
            """
        let root = try self.directory(["conf/deploy.yaml": yaml, "conf/secret.txt": "s3cret\n"])  // relative to the file
        defer { try? FileManager.default.removeItem(at: root) }
        let base = try await self.load(root, file: "conf/deploy.yaml")
        #expect(base.target == "file:./services" && base.auth == .password(username: "local", password: "local-secret"))
        let dev = try await self.load(root, file: "conf/deploy.yaml", profile: "dev")
        #expect(dev.target == "memory:" && dev.auth == .password(username: "local", password: "local-secret"), "unset keys fall back to the top level")
        let prod = try await self.load(root, file: "conf/deploy.yaml", profile: "prod")
        #expect(prod.target == "mlserver+https://ml.example.com:12800" && prod.auth == .password(username: "deployer", password: "s3cret"))
        #expect(prod.http.timeout.consume == .milliseconds(2500) && prod.sources["target"]?.contains("profile 'prod'") == true)
        let overridden = try await self.load(root, environment: ["MLDEPLOY_TARGET": "memory:", "MLDEPLOY_PROFILE": "prod"], file: "conf/deploy.yaml")
        #expect(overridden.target == "memory:" && overridden.profile == "prod")
        await #expect { try await self.load(root, file: "conf/deploy.yaml", profile: "staging") } throws: {
            ($0 as? MLDeployError)?.code == .invalidConfiguration && "\($0)".contains("staging")
        }
    }

    @Test("files are found in ./mldeploy.yaml, then ~/.config/mldeploy/config.yaml; JSON works; --config must exist")
    func discovery() async throws {
        let home = try self.directory(["home/.config/mldeploy/config.yaml": "target: file:/home-config\n"])
        defer { try? FileManager.default.removeItem(at: home) }
        #expect(try await self.load(home).target == "file:/home-config")
        try "target: file:/local\n".write(to: home.appendingPathComponent("mldeploy.yaml"), atomically: true, encoding: .utf8)
        #expect(try await self.load(home).target == "file:/local")
        try #"{"target": "memory:", "server": {"port": 8080}, "http": {"retry": {"attempts": 2}}}"#.write(to: home.appendingPathComponent("c.json"), atomically: true, encoding: .utf8)
        let json = try await self.load(home, file: "c.json")
        #expect(json.target == "memory:" && json.server.port == 8080 && json.http.retry.consume.maximumAttempts == 2)
        await #expect { try await self.load(home, file: "missing.yaml") } throws: { ($0 as? MLDeployError)?.code == .invalidConfiguration }
        try "target: [unclosed\n".write(to: home.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        await #expect { try await self.load(home, file: "bad.yaml") } throws: { ($0 as? MLDeployError)?.code == .invalidConfiguration && "\($0)".contains("bad.yaml") }
    }

    @Test("a bad value names its key, its source and the expected form", arguments: [
        (["server.port": "http"], [String: String](), "server.port", "the command line", "port number"),
        ([:], ["MLDEPLOY_PORT": "70000"], "server.port", "the environment", "port number"),
        ([:], ["MLDEPLOY_HTTP_TIMEOUT_CONSUME": "-1"], "http.timeout.consume", "the environment", "seconds"),
        ([:], ["MLDEPLOY_HTTP_PROXY": "proxy:3128"], "http.proxy", "the environment", "proxy URL"),
        ([:], ["MLDEPLOY_HTTP_TLS_VERIFY": "maybe"], "http.tls.verify", "the environment", "true or false"),
        ([:], ["MLDEPLOY_TARGET": ":nothing"], "target", "the environment", "scheme:rest"),
        ([:], ["MLDEPLOY_MIDDLEWARE": "tracing,audit"], "middleware", "the environment", "tracing, metrics, logging"),
    ])
    func invalid(_ flags: [String: String], _ environment: [String: String], _ key: String, _ source: String, _ form: String) async throws {
        let root = try self.directory([:])
        defer { try? FileManager.default.removeItem(at: root) }
        await #expect { try await self.load(root, flags: flags, environment: environment) } throws: { error in
            let text = "\(error)"
            return text.contains(key) && text.contains(source) && text.contains(form)
        }
    }

    @Test("middleware names the client's operation middleware in order; none is none; unset is the default chain")
    func middleware() async throws {
        let root = try self.directory(["mldeploy.yaml": "middleware: metrics, logging\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let fromFile = try await self.load(root)
        #expect(fromFile.middleware == ["metrics", "logging"])
        let chain = fromFile.operationMiddleware()
        #expect(chain.count == 2 && chain[0] is MetricsOperationMiddleware && chain[1] is LoggingOperationMiddleware)
        #expect(try await self.load(root, environment: ["MLDEPLOY_MIDDLEWARE": "none"]).operationMiddleware().isEmpty)
        let registry = BackendRegistry()
        try registry.register(.memory)
        let client = try await self.load(root, environment: ["MLDEPLOY_MIDDLEWARE": "tracing"]).makeClient(registry: registry)
        #expect(client.middleware.count == 1 && client.middleware[0] is TracingOperationMiddleware)
        try await client.shutdown()
        let bare = try self.directory([:])
        defer { try? FileManager.default.removeItem(at: bare) }
        #expect(try await self.load(bare).operationMiddleware().count == DeployClient.defaultMiddleware.count)
    }

    @Test("a bad value in the file names the file; a username without a password is an error when a client is made")
    func invalidInFile() async throws {
        let root = try self.directory(["mldeploy.yaml": "runtime:\n  max_workers: lots\n", "u.yaml": "auth:\n  username: alone\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        await #expect { try await self.load(root) } throws: { "\($0)".contains("runtime.max_workers") && "\($0)".contains("mldeploy.yaml") && "\($0)".contains("whole number") }
        // Loading succeeds (a cached session may stand in for the password: `mldeploy login`)…
        let alone = try await self.load(root, file: "u.yaml")
        #expect(alone.auth == nil && alone.usernameWithoutPassword == "alone")
        // …but a client cannot be made from a user alone.
        await #expect { try await alone.makeClient() } throws: { ($0 as? MLDeployError)?.code == .invalidConfiguration && "\($0)".contains("password") && "\($0)".contains("u.yaml") }
        let session = AuthSession(accessToken: "t", refreshToken: "r", username: "alone")
        var resumed = alone
        resumed.auth = AuthContext.accessToken("t").resuming(session)
        #expect(throws: Never.self) { try resumed.checkCredentials() }
    }

    @Test("keys no setting reads are reported, at the top level and in profiles; known keys are not")
    func unknownKeys() async throws {
        let root = try self.directory(["mldeploy.yaml": """
            target: file:./s
            colour: blue
            http:
              timeout: { connect: 3, conect: 4 }
              retries: 2
            profiles:
              prod:
                target: "memory:"
                auth: { username: u, user: v }
              odd: 7
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = try await self.load(root, profile: "prod")
        #expect(configuration.unknownKeys.sorted() == ["colour", "http.retries", "http.timeout.conect", "profiles.odd", "profiles.prod.auth.user"])
        #expect(configuration.target == "memory:" && configuration.http.timeout.connect == .seconds(3))
        let clean = try await self.load(try self.directory(["mldeploy.yaml": "target: file:./s\nserver: { port: 1 }\n"]))
        #expect(clean.unknownKeys.isEmpty)
    }

    @Test("every setting's default, as config show prints it, is the value in force")
    func defaults() throws {
        let defaults = DeployConfiguration()
        #expect(DeployConfiguration.defaultValue(of: "http.timeout.connect") == "10" && defaults.http.timeout.connect == .seconds(10))
        #expect(DeployConfiguration.defaultValue(of: "server.port") == String(defaults.server.port))
        #expect(DeployConfiguration.defaultValue(of: "runtime.python") == defaults.python.interpreter)
        #expect(DeployConfiguration.defaultValue(of: "runtime.memory_limit_mb") == String((defaults.python.memoryLimit ?? 0) >> 20))
        #expect(DeployConfiguration.defaultValue(of: "auth.password") == nil)
        #expect(DeployConfiguration.defaultValue(of: "target") == "\(defaults.deployTarget())")
    }

    @Test("confinement settings: isolation, user, network, scratch and processes reach the Python options; a bad one is named")
    func confinement() async throws {
        let root = try self.directory(["mldeploy.yaml": "runtime:\n  network: none\n  scratch_mb: 64\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(DeployConfiguration.defaultValue(of: "runtime.isolation") == "sandbox" && DeployConfiguration.defaultValue(of: "runtime.user") == "nobody")
        #expect(DeployConfiguration.defaultValue(of: "runtime.network") == "host")
        let configuration = try await self.load(root, environment: ["MLDEPLOY_RUNTIME_ISOLATION": "none", "MLDEPLOY_RUNTIME_USER": "mlworker", "MLDEPLOY_RUNTIME_MAX_PROCESSES": "32"])
        #expect(configuration.python.isolation == .none && configuration.python.sandboxUser == "mlworker" && configuration.python.network == .none)
        #expect(configuration.python.scratchSize == 64 << 20 && configuration.python.maximumProcesses == 32)
        let options = configuration.pythonOptions
        #expect(options["python.isolation"] == "none" && options["python.user"] == "mlworker" && options["python.network"] == "none")
        #expect(options["python.scratchMB"] == "64" && options["python.maxProcesses"] == "32")
        let read = try PythonRuntime.Configuration(options: options)
        #expect(read.isolation == .none && read.sandboxUser == "mlworker" && read.network == .none && read.scratchSize == 64 << 20 && read.maximumProcesses == 32)
        await #expect { try await self.load(root, environment: ["MLDEPLOY_RUNTIME_ISOLATION": "chroot"]) } throws: { error in
            (error as? MLDeployError)?.code == .invalidConfiguration && "\(error)".contains("runtime.isolation") && "\(error)".contains("sandbox")
        }
        #expect(throws: MLDeployError.self) { try PythonRuntime.Configuration(options: ["python.network": "bridge"]) }
    }

    @Test("runtime.realtime_batching reaches the local backends' options; a malformed one is named with its key")
    func realtimeBatching() async throws {
        let root = try self.directory(["mldeploy.yaml": "runtime:\n  realtime_batching: \"*:64:2ms\"\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(DeployConfiguration.defaultValue(of: "runtime.realtime_batching") == "off")
        #expect(try await self.load(root, environment: [:]).pythonOptions["realtime.batching"] == "*:64:2ms")
        let overridden = try await self.load(root, environment: ["MLDEPLOY_RUNTIME_REALTIME_BATCHING": "cars:16:1ms"])
        #expect(overridden.pythonOptions["realtime.batching"] == "cars:16:1ms")
        await #expect { try await self.load(root, environment: ["MLDEPLOY_RUNTIME_REALTIME_BATCHING": "cars:16"]) } throws: { error in
            (error as? MLDeployError)?.code == .invalidConfiguration && "\(error)".contains("runtime.realtime_batching")
        }
    }

    @Test("credentials: a token (from a file) wins; secrets never appear in errors")
    func credentials() async throws {
        let root = try self.directory(["token.txt": "tok-123\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let token = try await self.load(root, environment: ["MLDEPLOY_TOKEN_FILE": root.appendingPathComponent("token.txt").path, "MLDEPLOY_USERNAME": "u", "MLDEPLOY_PASSWORD": "p"])
        #expect(token.auth == .accessToken("tok-123"))
        let password = try await self.load(root, environment: ["MLDEPLOY_USERNAME": "u", "MLDEPLOY_PASSWORD": "p"])
        #expect(password.auth == .password(username: "u", password: "p"))
        await #expect { try await self.load(root, environment: ["MLDEPLOY_PASSWORD_FILE": "/nonexistent", "MLDEPLOY_USERNAME": "u"]) } throws: { "\($0)".contains("auth.password_file") }
    }

    @Test("a client is built from the configuration: target, and the Python settings for local backends")
    func client() async throws {
        let root = try self.directory([:])
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = try await self.load(root, environment: ["MLDEPLOY_TARGET": "memory:", "MLDEPLOY_PYTHON": "python3", "MLDEPLOY_RUNTIME_WORKERS_PER_VERSION": "3", "MLDEPLOY_RUNTIME_MEMORY_LIMIT_MB": "512"])
        #expect(configuration.pythonOptions == ["python.interpreter": "python3", "python.maxWorkers": "3", "python.memoryLimitMB": "512"])
        #expect(configuration.python.memoryLimit == 512 << 20)
        let registry = BackendRegistry()
        try registry.register(BackendRegistration(name: "memory", uriSchemes: ["memory"], summary: "test") { configuration in
            #expect(configuration.options["python.maxWorkers"] == "3")
            return RecordingBackend()
        })
        let client = try await configuration.makeClient(registry: registry)
        #expect(try await client.listServices().isEmpty)
        try await client.shutdown()
    }
}

/// A backend with nothing in it.
final class RecordingBackend: Backend {
    var capabilities: BackendCapabilities { [] }
    func getService(_ name: String, version: String?) async throws -> ServiceInfo { throw MLDeployError.serviceNotFound(name: name, version: version) }
    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] { [] }
    func deleteService(_ name: String, version: String) async throws {}
    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { throw MLDeployError.unsupported("deploy", backend: "recording") }
    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { throw MLDeployError.unsupported("deploy", backend: "recording") }
    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse { throw MLDeployError.unsupported("consume", backend: "recording") }
}
