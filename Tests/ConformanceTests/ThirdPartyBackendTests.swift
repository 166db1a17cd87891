import Foundation
import MLDeploy
import MLDeployConformance
import Testing

@Suite("A third-party backend")
struct ThirdPartyBackendTests {
    @Test("passes the conformance suite", arguments: BackendConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await check.run(ConformanceConfiguration { TinyBackend() })
    }

    @Test("docs/writing-a-backend.md shows this backend exactly as it is tested")
    func documentedCopy() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let guide = try String(contentsOf: root.appendingPathComponent("docs/writing-a-backend.md"), encoding: .utf8)
        let begin = try #require(guide.range(of: "<!-- tiny-backend:begin -->\n```swift\n"))
        let end = try #require(guide.range(of: "\n```\n<!-- tiny-backend:end -->", range: begin.upperBound..<guide.endIndex))
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("TinyBackend.swift"), encoding: .utf8)
        #expect(String(guide[begin.upperBound..<end.lowerBound]) == source.trimmingCharacters(in: .newlines), "update the guide's copy of TinyBackend.swift")
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
