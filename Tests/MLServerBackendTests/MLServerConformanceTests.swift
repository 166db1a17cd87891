import MLDeploy
import MLDeployConformance
import MLServerBackend
import Testing

@Suite("MLServer backend conformance, through a real server")
struct MLServerConformanceTests {
    /// Every check of the suite: the MLServer backend → MLDeployServer (the `mldeploy serve` server)
    /// → a filesystem store running real Python workers.
    @Test("passes with Python services", arguments: BackendConformance.checks)
    func python(_ check: ConformanceCheck) async throws {
        try await LocalMLServer.with { server in
            let base = server.base
            try await check.run(ConformanceConfiguration(credentials: LocalMLServer.owner, flavor: .python) { try MLServerBackend(baseURL: base) })
        }
    }
}
