import FileStoreBackend
import Foundation
import MLDeploy
import Testing

/// `mldeploy verify`, run as the built executable against real stores.
@Suite("mldeploy verify")
struct VerifyCommandTests {
    let mldeploy = builtExecutable("mldeploy")

    @Test("reports a sound store and exits 0, given as a root or as --target")
    func clean() async throws {
        let root = temporaryRoot("verify")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(FileStoreTests.definition("svc", "1"))
        _ = try await store.deployService(FileStoreTests.definition("svc", "2"))

        let byRoot = try await runCapturing(self.mldeploy, ["verify", root])
        #expect(byRoot.status == 0, "\(byRoot.error)")
        #expect(byRoot.output == "2 version(s), 1 blob(s): no problems\n")

        let byTarget = try await runCapturing(self.mldeploy, ["verify", "--target", "file:" + root, "--format", "json"])
        #expect(byTarget.status == 0, "\(byTarget.error)")
        let report = try JSONValue(parsing: byTarget.output)
        #expect(report["clean"]?.boolValue == true)
        #expect(report["versions"]?.intValue == 2)
        #expect(report["problems"]?.arrayValue?.isEmpty == true)
    }

    @Test("lists each problem and exits 2; an interrupted write is reported, not recovered")
    func problems() async throws {
        let root = temporaryRoot("verify")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(FileStoreTests.definition("svc", "1", payload: "original"))
        let manifest = try JSONValue(parsing: try Data(contentsOf: URL(fileURLWithPath: root + "/services/svc/1.json")))
        let hash = try #require(manifest["models"]?["model"]?["blob"]?.stringValue)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: "\(root)/blobs/\(hash.prefix(2))/\(hash)"))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: root + "/services/svc/2.json"))
        try Data().write(to: URL(fileURLWithPath: root + "/tmp/leftover"))

        let text = try await runCapturing(self.mldeploy, ["verify", root])
        #expect(text.status == 2)
        let lines = text.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("checksum-mismatch blobs/\(hash.prefix(2))/\(hash): ") })
        #expect(lines.contains { $0.hasPrefix("unreadable-manifest services/svc/2.json: ") })
        #expect(lines.contains { $0.hasPrefix("interrupted-write tmp/leftover: ") })
        #expect(lines.last == "1 version(s), 1 blob(s): 3 problem(s)")

        let json = try await runCapturing(self.mldeploy, ["verify", root, "--format", "json"])
        #expect(json.status == 2)
        let kinds = try JSONValue(parsing: json.output)["problems"]?.arrayValue?.compactMap { $0["kind"]?.stringValue }
        #expect(Set(kinds ?? []) == ["checksum-mismatch", "unreadable-manifest", "interrupted-write"])
        #expect(FileManager.default.fileExists(atPath: root + "/tmp/leftover"), "verify changes nothing")
    }

    @Test("refuses a missing store without creating it, a target that is not a file store, and bad usage")
    func refusals() async throws {
        let missing = temporaryRoot("verify-missing")
        let result = try await runCapturing(self.mldeploy, ["verify", missing])
        #expect(result.status == 1)
        #expect(result.error.hasPrefix("error[not-found]: There is no MLDeploy store at "))
        #expect(!FileManager.default.fileExists(atPath: missing))

        let memory = try await runCapturing(self.mldeploy, ["verify", "--target", "memory:"])
        #expect(memory.status == 1)
        #expect(memory.error.hasPrefix("error[unsupported]: verify checks filesystem stores"))

        for arguments in [["verify"], ["verify", "a", "--target", "file:b"], ["verify", "a", "--format", "xml"]] {
            let usage = try await runCapturing(self.mldeploy, arguments)
            #expect(usage.status == 64, "\(arguments)")
            #expect(!usage.error.isEmpty)
        }
    }
}
