import FileStoreBackend
import Foundation
import MLDeploy
import MLDeployConformance
import ServiceRuntime
import Testing

@Suite("FileStore conformance")
struct FileStoreConformanceTests {
    @Test("passes with Swift handlers", arguments: BackendConformance.checks)
    func swift(_ check: ConformanceCheck) async throws {
        let root = temporaryRoot("conformance")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "x")) { FileStore(root: root, python: nil) })
        let verification = try await openStore(root).verify()
        #expect(verification.isClean, "\(verification.problems)")
    }

    /// One check at a time, each with a patient queue (see MemoryBackendConformanceTests).
    @Test("passes with Python services", .serialized, arguments: BackendConformance.checks)
    func python(_ check: ConformanceCheck) async throws {
        let root = temporaryRoot("conformance-py")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let python = { var python = PythonRuntime.Configuration(); python.maximumQueueWait = .seconds(180); return python }()
        try await check.run(ConformanceConfiguration(flavor: .python) { FileStore(root: root, python: python) })
        let verification = try await openStore(root).verify()
        #expect(verification.isClean, "\(verification.problems)")
    }
}
