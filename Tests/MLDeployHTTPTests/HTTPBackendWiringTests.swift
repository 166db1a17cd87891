import Foundation
import MLDeploy
import MLDeployHTTP
import Testing

/// A custom HTTP backend, as a third party would write it: it takes the HTTP client from its context
/// and never configures transport itself. Its `listServices` calls the fault server's `/protected`.
final class ProtectedPingBackend: Backend {
    let capabilities: BackendCapabilities = []
    let baseURL: URL
    nonisolated(unsafe) var http: HTTPClient?

    init(baseURL: URL) {
        self.baseURL = baseURL
    }

    func initialize(context: BackendContext) async throws {
        self.http = try context.httpClient
    }

    func authenticate(_ credentials: AuthContext) async throws {
        guard let (username, password) = credentials.passwordCredentials else {
            throw MLDeployError(code: .authenticationFailed, message: "password credentials needed")
        }
        self.http!.authentication.use(LoginTokenSource(baseURL: self.baseURL, username: username, password: password))
        try await self.http!.authentication.authenticate()
    }

    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        let response = try await self.http!.send(try HTTPRequest(.get, self.baseURL.appendingPathComponent("protected")))
        guard response.status == 200 else { throw MLDeployError(code: .backendFailure, message: "HTTP \(response.status)", httpStatus: response.status) }
        return []
    }

    func getService(_ name: String, version: String?) async throws -> ServiceInfo { throw MLDeployError.notFound(name) }
    func deleteService(_ name: String, version: String) async throws { throw MLDeployError.notFound(name) }
    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { throw MLDeployError.unsupported("deploy", backend: "ping") }
    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { throw MLDeployError.unsupported("deploy", backend: "ping") }
    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse { throw MLDeployError.unsupported("consume", backend: "ping") }
}

@Suite("The framework hands HTTP backends one configured client")
struct HTTPBackendWiringTests {
    @Test("a registration's HTTP provider gives the backend a client with the whole chain, released at shutdown")
    func registrationDefault() async throws {
        try await FaultServer.with { server throws in
            let registry = BackendRegistry()
            let base = URL(string: server.url(""))!
            try registry.register(BackendRegistration(name: "ping", summary: "test", contextProviders: [HTTPClientProvider(configuration: testConfiguration())]) { _ in
                ProtectedPingBackend(baseURL: base)
            })
            let client = try await DeployClient(target: "ping", auth: .password(username: "admin", password: "secret"), registry: registry)
            _ = try await client.listServices()
            let http = try #require((client.backend as? ProtectedPingBackend)?.http)
            _ = try await http.send(try HTTPRequest(.post, server.url("/admin/expire-tokens")))
            _ = try await client.listServices()  // a 401, a refresh and a replay, invisible to the caller
            let stats = try await server.stats(http)
            #expect(stats["logins"] == 1 && stats["refreshes"] == 1 && stats["protected_ok"] == 2)
            try await client.shutdown()
            await #expect { try await http.send(try HTTPRequest(.get, server.url("/echo"))) } throws: { ($0 as? MLDeployError)?.code == .cancelled }
        }
    }

    @Test("the caller's HTTP configuration replaces the registration's")
    func callerOverride() async throws {
        try await FaultServer.with { server throws in
            let registry = BackendRegistry()
            let base = URL(string: server.url(""))!
            try registry.register(BackendRegistration(name: "ping", summary: "test", contextProviders: [HTTPClientProvider(configuration: testConfiguration())]) { _ in
                ProtectedPingBackend(baseURL: base)
            })
            var configuration = testConfiguration()
            configuration.defaultHeaders = ["X-Configured-By": "caller"]
            try await withDeployClient(target: "ping", registry: registry, providers: [HTTPClientProvider(configuration: configuration)]) { client in
                let http = try #require((client.backend as? ProtectedPingBackend)?.http)
                let echo = try await http.send(try HTTPRequest(.get, server.url("/echo"))).json
                #expect(echo["headers"]?["x-configured-by"] == "caller")
            }
            let convenience = try await DeployClient(target: "ping", http: configuration, registry: registry)
            #expect(try #require((convenience.backend as? ProtectedPingBackend)?.http).configuration.defaultHeaders["X-Configured-By"] == "caller")
            try await convenience.shutdown()
        }
    }

    @Test("without a provider, the backend fails at initialization with a clear error")
    func missing() async throws {
        await #expect { try await DeployClient(target: .backend(ProtectedPingBackend(baseURL: URL(string: "http://127.0.0.1:9")!))) } throws: {
            ($0 as? MLDeployError)?.code == .invalidArgument && "\($0)".contains("HTTPClientProvider")
        }
    }

    @Test("a failed authentication releases the HTTP client it prepared")
    func failedAuthentication() async throws {
        try await FaultServer.with { server throws in
            let backend = ProtectedPingBackend(baseURL: URL(string: server.url(""))!)
            await #expect {
                try await DeployClient(target: .backend(backend), auth: .password(username: "admin", password: "wrong"), http: testConfiguration())
            } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
            let http = try #require(backend.http)
            await #expect { try await http.send(try HTTPRequest(.get, server.url("/echo"))) } throws: { ($0 as? MLDeployError)?.code == .cancelled }
        }
    }
}
