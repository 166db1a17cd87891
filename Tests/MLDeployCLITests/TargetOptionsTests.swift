import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

/// Backend options reach every backend the same way: the target URI's query string, and
/// `target_options` in the config file or the environment; unknown options are refused naming the
/// known ones.
@Suite("Target options: query strings and target_options")
struct TargetOptionsTests {
    @Test("a query string and target_options set a backend's options; unknown ones are refused naming the known ones; nothing is created then")
    func options() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        try cli.write("double.py", "y = x * 2\n")
        // The query string: fsync=false on a file store, and the path stays the path.
        let deployed = try await cli.run(["--target", "file:./store?fsync=false", "deploy", "doubler", "--version", "1", "--code", "double.py", "--input", "x=numeric", "--output", "y=numeric"])
        #expect(deployed.status == 0, "\(deployed.error)")
        #expect(FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("store").path))
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("store?fsync=false").path))
        let listed = try await cli.run(["--target", "file:./store?create=false", "list"])
        #expect(listed.status == 0 && listed.output.contains("doubler"), "\(listed.output)\(listed.error)")

        // An unknown option, in the query or in target_options: refused, naming the known ones.
        let bogus = try await cli.run(["--target", "file:./other?fsnc=false", "list"])
        #expect(bogus.status != 0 && bogus.error.contains("'fsnc'") && bogus.error.contains("path, create, recover, fsync"), "\(bogus.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("other").path))
        let memory = try await cli.run(["--target", "memory:?size=1", "list"])
        #expect(memory.status != 0 && memory.error.contains("takes none"), "\(memory.error)")

        // target_options in the config file (a section) and the environment (pairs).
        try cli.write("mldeploy.yaml", "target: file:./fromfile\ntarget_options:\n  create: false\n")
        let refused = try await cli.run(["list"])
        #expect(refused.status != 0 && !FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("fromfile").path), "create: false must stop the store being made: \(refused.output)")
        let created = try await cli.run(["list"], environment: ["MLDEPLOY_TARGET_OPTIONS": "create=true&fsync=false"])
        #expect(created.status == 0 && FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("fromfile").path), "\(created.error)")
        let malformed = try await cli.run(["list"], environment: ["MLDEPLOY_TARGET_OPTIONS": "fsync"])
        #expect(malformed.status != 0 && malformed.error.contains("target_options") && malformed.error.contains("key=value"), "\(malformed.error)")
        try cli.write("mldeploy.yaml", "target: file:./fromfile\ntarget_options:\n  fsink: false\n")
        let unknown = try await cli.run(["list"])
        #expect(unknown.status != 0 && unknown.error.contains("'fsink'"), "\(unknown.error)")
    }
}
