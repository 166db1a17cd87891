import InMemoryBackend
import MLDeploy
import MLDeployConformance
import ServiceRuntime
import Testing

@Suite("MemoryBackend conformance")
struct MemoryBackendConformanceTests {
    @Test("passes", arguments: BackendConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "secret")) { MemoryBackend() })
    }

    /// One check at a time, each with a patient queue: run all at once, 29 backends start their
    /// Python workers together beside the rest of the suite, and on a loaded two-core CI machine a
    /// call could wait out the pool's default 30 s queue bound behind starts that slow
    /// (`overloaded`) — a verdict on the machine, not on the backend.
    @Test("passes with Python services", .serialized, arguments: BackendConformance.checks)
    func pythonConformance(_ check: ConformanceCheck) async throws {
        let python = { var python = PythonRuntime.Configuration(); python.maximumQueueWait = .seconds(180); return python }()
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "secret"), flavor: .python) { MemoryBackend(python: python) })
    }

    @Test("passes without credentials", arguments: BackendConformance.checks.filter { $0.name.hasPrefix("lifecycle") })
    func conformanceWithoutCredentials(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration { MemoryBackend() })
    }
}
