import MLDeploy
import MLDeployConformance
import Testing

@Suite("A third-party backend")
struct ThirdPartyBackendTests {
    @Test("passes the conformance suite", arguments: BackendConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration { TinyBackend() })
    }

    @Test("registers under its own name and URI scheme")
    func registration() async throws {
        let registry = BackendRegistry()
        try registry.register(BackendRegistration(name: "tiny", aliases: ["com.example.Tiny"], uriSchemes: ["tiny"], summary: "test") { _ in TinyBackend() })
        for target: DeployTarget in ["tiny", "TINY", "com.example.tiny", "tiny:", "Tiny:anything"] {
            try await withDeployClient(target: target, registry: registry) { client in
                #expect(client.configuration.backendName == "tiny")
                #expect(client.backend is TinyBackend)
            }
        }
    }
}
