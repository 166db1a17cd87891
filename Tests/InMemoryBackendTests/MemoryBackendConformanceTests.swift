import InMemoryBackend
import MLDeploy
import MLDeployConformance
import Testing

@Suite("MemoryBackend conformance")
struct MemoryBackendConformanceTests {
    @Test("passes", arguments: BackendConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "secret")) { MemoryBackend() })
    }

    @Test("passes with Python services", arguments: BackendConformance.checks)
    func pythonConformance(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "secret"), flavor: .python) { MemoryBackend() })
    }

    @Test("passes without credentials", arguments: BackendConformance.checks.filter { $0.name.hasPrefix("lifecycle") })
    func conformanceWithoutCredentials(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration { MemoryBackend() })
    }
}
