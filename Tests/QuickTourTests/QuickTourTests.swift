import Foundation
import InMemoryBackend
import MLDeploy
import Testing

/// The README's quick tour, compiled and run. `readmeMatches` keeps the README's copy identical.
@Suite("README quick tour", .serialized)
struct QuickTourTests {
    @Test("runs")
    func tour() async throws {
        // tour:begin
        // Register the backends you link, once, at start-up.
        try BackendRegistry.shared.register(.memory)

        try await withDeployClient(target: "memory:") { client in
            // Deploy a named, versioned service with a typed schema.
            let service = try await client.service("add")
                .version("1.0")
                .description("Adds two numbers")
                .handler("add") { call in
                    call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b"))
                }
                .inputs(["a": .numeric, "b": .numeric])
                .outputs(["sum": .numeric])
                .deploy()

            // Consume it by input name, positionally, or through its alias.
            let response = try await service.consume(["a": 1, "b": 2])
            print(response.output("sum")!)  // 3.0
            _ = try await service(1, 2)
            _ = try await service.add(a: 1, b: 2)

            // List what is deployed, then delete (a version is always required).
            for info in try await client.listServices() {
                print(info.name, info.version)  // add 1.0
            }
            try await client.deleteService("add", version: "1.0")
        }
        // tour:end
    }

    @Test("README shows exactly the code that runs")
    func readmeMatches() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: testFile, encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)

        let begin = try #require(source.range(of: "// tour:begin\n"))
        let end = try #require(source.range(of: "        // tour:end"))
        let tour = source[begin.upperBound..<end.lowerBound]
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
            .joined(separator: "\n")

        let imports = "import InMemoryBackend\nimport MLDeploy\n\n"
        #expect(readme.contains("```swift\n" + imports + tour + "```"), "README.md's quick tour differs from QuickTourTests.tour")
    }
}
