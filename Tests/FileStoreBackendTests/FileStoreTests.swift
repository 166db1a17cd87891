import FileStoreBackend
import Foundation
import MLDeployTestSupport
import Logging
import MLDeploy
import ServiceRuntime
import Testing

@Suite("FileStore durability and safety")
struct FileStoreTests {
    static func definition(_ name: String, _ version: String, description: String = "d", payload: String = "model-bytes") -> ServiceDefinition {
        ServiceDefinition(
            name: name, version: version, description: description, code: "answer = x",
            models: ["model": .pickled(Data(payload.utf8))], inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "answer", type: .integer)]
        )
    }

    /// The payload bytes stored for a version's model, read back through the store's own files.
    static func payload(_ root: String, _ name: String, _ version: String) throws -> String? {
        guard let manifest = try? String(contentsOfFile: "\(root)/services/\(name)/\(version).json", encoding: .utf8) else { return nil }
        let json = try JSONValue(parsing: manifest)
        guard let hash = json["models"]?["model"]?["blob"]?.stringValue else { return nil }
        return try String(contentsOfFile: "\(root)/blobs/\(hash.prefix(2))/\(hash)", encoding: .utf8)
    }

    @Test("a version survives reopening, and other instances see changes at once")
    func persistence() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try await openStore(root)
        let second = try await openStore(root)
        _ = try await first.deployService(Self.definition("svc", "1"))
        #expect(try await second.getService("svc", version: nil).version == "1")
        _ = try await second.deployService(Self.definition("svc", "2", description: "second"))
        #expect(try await first.getService("svc", version: nil).version == "2")
        _ = try await first.redeployService(ServiceDefinition(name: "svc", version: "2", description: "patched"))
        #expect(try await second.getService("svc", version: "2").description == "patched")
        try await second.deleteService("svc", version: "1")
        #expect(try await first.listServices(.named("svc")).map(\.version) == ["2"])
        // Full listings stay true as other instances add and remove names.
        #expect(try await first.listServices(.all).map(\.name) == ["svc"])
        _ = try await second.deployService(Self.definition("other", "1"))
        #expect(try await first.listServices(.all).map(\.name) == ["other", "svc"])
        try await first.deleteService("other", version: "1")
        #expect(try await second.listServices(.all).map(\.name) == ["svc"])
        let reopened = try await openStore(root)
        let info = try await reopened.getService("svc", version: "2")
        #expect(info.description == "patched" && info.inputs == [.init(name: "x", type: .integer)])
        #expect(try await reopened.verify().isClean)
    }

    @Test("target options: create, recover and fsync, and clear errors for bad values")
    func options() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func configured(_ options: [String: String]) throws -> FileStore {
            try FileStore(configuration: BackendConfiguration(backendName: "filesystem", uri: try TargetURI(parsing: "file:" + root), options: options))
        }
        func initialize(_ store: FileStore) async throws {
            try await store.initialize(context: BackendContext(configuration: .init(backendName: "filesystem"), logger: .init(label: "t")))
        }
        await #expect { try await initialize(try configured(["create": "false"])) } throws: { ($0 as? MLDeployError)?.code == .notFound }
        #expect(!FileManager.default.fileExists(atPath: root), "create=false leaves a missing root missing")

        // Without fsync, writes are still whole and visible to other instances.
        let unsynced = try configured(["fsync": "false"])
        #expect(!unsynced.isSynchronous)
        try await initialize(unsynced)
        _ = try await unsynced.deployService(Self.definition("svc", "1"))
        #expect(try await openStore(root).getService("svc", version: "1").inputs == [.init(name: "x", type: .integer)])

        // recover=false opens the store as found; the default finishes the interrupted write.
        try Data().write(to: URL(fileURLWithPath: root + "/tmp/leftover"))
        let asFound = try configured(["recover": "false"])
        try await initialize(asFound)
        #expect(try await asFound.verify().problems.map(\.kind) == [.interruptedWrite])
        try await initialize(try configured([:]))
        #expect(!FileManager.default.fileExists(atPath: root + "/tmp/leftover"))

        for (key, value) in [("fsync", "sometimes"), ("create", "1"), ("recover", "")] {
            #expect { try configured([key: value]) } throws: { error in
                (error as? MLDeployError)?.code == .invalidArgument && "\(error)".contains("Option \(key) of the filesystem backend must be true or false")
            }
        }
        #expect(try configured([:]).isSynchronous)
    }

    @Test("blobs are stored once per content and collected when nothing refers to them")
    func blobSharing() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("a", "1", payload: "shared"))
        _ = try await store.deployService(Self.definition("b", "1", payload: "shared"))
        _ = try await store.deployService(Self.definition("b", "2", payload: "own"))
        #expect(try await store.verify().blobs == 2)
        try await store.deleteService("a", version: "1")
        #expect(try await store.verify().blobs == 2, "b/1 still uses the shared blob")
        _ = try await store.redeployService(ServiceDefinition(name: "b", version: "1", models: ["model": .pickled(Data("own".utf8))]))
        let verification = try await store.verify()
        #expect(verification.blobs == 1 && verification.isClean, "the shared blob was collected when its last user moved off it")
        try await store.deleteService("b", version: "1")
        try await store.deleteService("b", version: "2")
        #expect(try await store.verify().blobs == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/services").isEmpty)
    }

    @Test("creates files owner-only")
    func permissions() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("svc", "1"))
        let enumerator = FileManager.default.enumerator(atPath: root)!
        var checked = 0
        for case let relative as String in enumerator {
            var info = stat()
            #expect(lstat(root + "/" + relative, &info) == 0)
            #expect(info.st_mode & 0o077 == 0, "\(relative) is accessible to others: \(String(info.st_mode & 0o777, radix: 8))")
            checked += 1
        }
        #expect(checked > 8)
    }

    @Test("refuses names that would escape the root before touching the disk", arguments: ["..", "../escape", "a/../../b", "/etc/passwd", "nul\u{0}", String(repeating: "n", count: 300), ".hidden"])
    func traversal(name: String) async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        let before = try FileManager.default.subpathsOfDirectory(atPath: root).sorted()
        await #expect(throws: MLDeployError.self) { try await store.deployService(Self.definition(name, "1")) }
        await #expect(throws: MLDeployError.self) { try await store.deployService(Self.definition("ok", name)) }
        await #expect(throws: MLDeployError.self) { try await store.getService(name, version: nil) }
        await #expect(throws: MLDeployError.self) { try await store.deleteService("ok", version: name) }
        await #expect(throws: MLDeployError.self) { try await store.listServices(.named(name)) }
        let info = ServiceInfo(name: name, version: "1", runtime: .python)
        await #expect(throws: MLDeployError.self) { try await store.consume(ConsumeRequest(service: info, inputs: [:])) }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: root).sorted() == before)
        #expect(!FileManager.default.fileExists(atPath: (root as NSString).deletingLastPathComponent + "/escape"))
    }

    @Test("skips and reports corrupt or foreign manifests; listing never fails")
    func corruptManifests() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("svc", "1"))
        _ = try await store.deployService(Self.definition("svc", "2"))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: root + "/services/svc/2.json"))
        try Data(#"{"format": 99, "name": "svc", "version": "3"}"#.utf8).write(to: URL(fileURLWithPath: root + "/services/svc/3.json"))
        try Data(#"{"hello": "world"}"#.utf8).write(to: URL(fileURLWithPath: root + "/services/svc/4.json"))
        let reader = try await openStore(root)
        #expect(try await reader.listServices(.all).map(\.version) == ["1"])
        #expect(try await reader.getService("svc", version: nil).version == "1")
        await #expect { try await reader.getService("svc", version: "2") } throws: { ($0 as? MLDeployError)?.code == .notFound }
        let problems = try await reader.verify().problems
        #expect(problems.filter { $0.kind == .unreadableManifest }.map(\.path).sorted() == ["services/svc/2.json", "services/svc/3.json", "services/svc/4.json"])
    }

    @Test("verify reports orphans, checksum mismatches and missing blobs")
    func verification() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("svc", "1", payload: "one"))
        _ = try await store.deployService(Self.definition("svc", "2", payload: "two"))
        #expect(try await store.verify().isClean)
        let blobs = root + "/blobs"
        let hashes = try FileManager.default.contentsOfDirectory(atPath: blobs).flatMap { prefix in
            try FileManager.default.contentsOfDirectory(atPath: blobs + "/" + prefix)
        }.sorted()
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: "\(blobs)/\(hashes[0].prefix(2))/\(hashes[0])"))
        try FileManager.default.removeItem(atPath: "\(blobs)/\(hashes[1].prefix(2))/\(hashes[1])")
        let orphan = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: "\(blobs)/ab", withIntermediateDirectories: true)
        try Data("stray".utf8).write(to: URL(fileURLWithPath: "\(blobs)/ab/\(orphan)"))
        try Data().write(to: URL(fileURLWithPath: root + "/tmp/leftover"))
        let kinds = Set(try await store.verify().problems.map(\.kind))
        #expect(kinds == [.checksumMismatch, .missingBlob, .orphanBlob, .interruptedWrite])
    }

    @Test("checks the format of an existing root, and refuses foreign directories")
    func format() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await openStore(root)
        try Data(#"{"format": "mldeploy-filestore", "version": 2}"#.utf8).write(to: URL(fileURLWithPath: root + "/mldeploy-store.json"))
        await #expect { try await openStore(root) } throws: { ($0 as? MLDeployError)?.code == .incompatibleStore && "\($0)".contains("Upgrade") }
        let foreign = temporaryRoot("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: foreign + "/notes.txt"))
        defer { try? FileManager.default.removeItem(atPath: foreign) }
        await #expect { try await openStore(foreign) } throws: { ($0 as? MLDeployError)?.code == .incompatibleStore }
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign) == ["notes.txt"])
    }

    @Test("a stored Swift handler resolves in any process that registers it, and fails clearly where none does")
    func handlers() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let deployer = FileStore(root: root, handlers: HandlerRegistry(), python: nil)
        try await deployer.initialize(context: BackendContext(configuration: .init(backendName: "filesystem"), logger: .init(label: "t")))
        let handler = ServiceHandler("double") { call in call.outputs["y"] = .integer(try call.integer("x") * 2) }
        let info = try await deployer.deployService(ServiceDefinition(name: "h", version: "1", handler: handler, inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)]))
        #expect(try await deployer.consume(ConsumeRequest(service: info, inputs: ["x": 2])).output("y") == 4)

        let elsewhere = HandlerRegistry()
        let other = FileStore(root: root, handlers: elsewhere, python: nil)
        try await other.initialize(context: BackendContext(configuration: .init(backendName: "filesystem"), logger: .init(label: "t")))
        await #expect { try await other.consume(ConsumeRequest(service: info, inputs: ["x": 2])) } throws: {
            ($0 as? MLDeployError)?.code == .unresolvedHandler && "\($0)".contains("'double'")
        }
        elsewhere.register(handler)
        #expect(try await other.consume(ConsumeRequest(service: info, inputs: ["x": 3])).output("y") == 6)
    }

    @Test("a read-only root can be read, and refuses writes with a clear error")
    func readOnly() async throws {
        let root = temporaryRoot()
        let mountPoint = temporaryRoot("readonly")
        defer {
            _ = try? run("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("svc", "1"))
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        if getuid() == 0 {
            try #require(try run("/bin/mount", ["--bind", root, mountPoint]) == 0)
            try #require(try run("/bin/mount", ["-o", "remount,bind,ro", mountPoint]) == 0, "a read-only bind mount needs CAP_SYS_ADMIN")
        } else {
            try FileManager.default.removeItem(atPath: mountPoint)
            try FileManager.default.copyItem(atPath: root, toPath: mountPoint)
            _ = try run("/bin/chmod", ["-R", "a-w", mountPoint])
        }
        let readOnly = try await openStore(mountPoint)
        #expect(readOnly.isReadOnly)
        #expect(try await readOnly.getService("svc", version: nil).version == "1")
        #expect(try await readOnly.listServices(.all).count == 1)
        for attempt in 0..<2 {
            await #expect {
                if attempt == 0 {
                    _ = try await readOnly.deployService(Self.definition("svc", "2"))
                } else {
                    try await readOnly.deleteService("svc", version: "1")
                }
            } throws: { ($0 as? MLDeployError)?.code == .storageFailure && "\($0)".contains("read-only") }
        }
    }

    @Test("stray files in services/, blobs/, refs/ or at the root: listing keeps working after a restart, and verify reports each as an unexpected file")
    func strayFiles() async throws {
        let root = temporaryRoot("stray")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try await openStore(root)
        _ = try await store.deployService(Self.definition("svc", "1"))
        for path in ["services/stray.txt", "blobs/stray.txt", "refs/stray.txt", "notes.txt"] {
            try "left here by hand".write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        let restarted = try await openStore(root)
        #expect(try await restarted.listServices(.all).map(\.name) == ["svc"])
        #expect(try await restarted.listServices(.named("stray.txt")).isEmpty)
        _ = try await restarted.deployService(Self.definition("svc", "2"))
        let report = try await restarted.verify()
        let unexpected = Set(report.problems.filter { $0.kind == .unexpectedFile }.map(\.path))
        #expect(unexpected == ["services/stray.txt", "blobs/stray.txt", "refs/stray.txt", "notes.txt"], "\(report.problems)")
        #expect(report.versions == 2)
    }

    @Test("survives SIGKILL at random points of deploy, redeploy and delete: old or new state, never a mix", .timeLimit(.minutes(5)))
    func crashes() async throws {
        let root = temporaryRoot("crash")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var store = try await openStore(root)
        _ = try await store.deployService(Self.definition("crash", "base", description: "base-0", payload: "base-payload-0"))
        // Calibrate: time each kind of operation whole in a child, so kills spread from before its
        // first write to about its end (the span depends on the disk's fsync latency and the build).
        var spans: [String: Int] = [:]  // microseconds, the shortest of three runs
        for round in 0..<3 {
            for arguments in [["deploy", "crash", "calibrate", "c", "c"], ["delete", "crash", "calibrate"]] {
                let helper = try Helper([root] + arguments + ["--wait"])
                #expect(helper.line() == "ready")
                let start = ContinuousClock.now
                helper.go()
                #expect(helper.line() == "done", "calibration round \(round)")
                let elapsed = (ContinuousClock.now - start).components
                let micros = Int(elapsed.seconds) * 1_000_000 + Int(elapsed.attoseconds / 1_000_000_000_000)
                spans[arguments[0]] = min(spans[arguments[0]] ?? .max, micros)
                #expect(try await helper.wait() == 0)
            }
        }
        var generator = SystemRandomNumberGenerator()
        var outcomes: [String: Int] = [:]
        // At least 100 kills; more (up to 400) until enough of them landed mid-write: on a machine
        // whose load changes during the run (a parallel test suite), the calibrated span drifts and
        // a fixed count sometimes saw too few interrupted writes to prove recovery.
        // The window also adapts: when twenty kills in a row all came before the write started (a
        // loaded machine schedules the helper late), it widens.
        var scale = 1.0, killsBeforeWriting = 0
        for iteration in 1...400 {
            if iteration > 100, outcomes["interrupted mid-write", default: 0] >= 3, outcomes.count >= 5 { break }
            if killsBeforeWriting >= 20 {
                scale = min(scale * 2, 64)
                killsBeforeWriting = 0
            }
            let operation = ["deploy", "redeploy", "delete"][iteration % 3]
            let before = try await store.listServices(.named("crash")).map(\.version)
            let oldDescription = try await store.getService("crash", version: "base").description!
            let target = operation == "delete" ? (before.last { $0 != "base" } ?? "none") : (operation == "deploy" ? "v\(iteration)" : "base")
            if operation == "delete", target == "none" { continue }
            var arguments = [root, operation, "crash", target]
            if operation != "delete" { arguments += ["desc-\(iteration)", "payload-\(iteration)"] }
            let helper = try Helper(arguments + ["--wait"])
            #expect(helper.line() == "ready")
            helper.go()
            let span = Int(Double(spans[operation == "delete" ? "delete" : "deploy"]!) * scale)
            try await Task.sleep(for: .microseconds(Int.random(in: 0...span, using: &generator)))
            helper.kill()
            let interrupted = FileManager.default.fileExists(atPath: root + "/intent.json")
            if interrupted { outcomes["interrupted mid-write", default: 0] += 1 }

            store = try await openStore(root)  // recovers the interrupted write, if any
            let after = try await store.listServices(.named("crash")).map(\.version)
            let newState: Bool
            switch operation {
            case "deploy":
                newState = after.contains(target)
                #expect(after == (newState ? before + [target] : before))
                if newState {
                    #expect(try await store.getService("crash", version: target).description == "desc-\(iteration)")
                    #expect(try Self.payload(root, "crash", target) == "payload-\(iteration)")
                }
            case "redeploy":
                let description = try await store.getService("crash", version: "base").description
                let payload = try Self.payload(root, "crash", "base")
                newState = description == "desc-\(iteration)"
                #expect(after == before)
                if newState {
                    #expect(payload == "payload-\(iteration)", "description and model changed together")
                } else {
                    #expect(description == oldDescription)
                    #expect(payload != "payload-\(iteration)")
                }
            default:
                newState = !after.contains(target)
                #expect(after == (newState ? before.filter { $0 != target } : before))
                if !newState { #expect(try Self.payload(root, "crash", target) != nil, "an undeleted version is whole") }
            }
            outcomes["\(operation) \(newState ? "new" : "old")", default: 0] += 1
            killsBeforeWriting = newState || interrupted ? 0 : killsBeforeWriting + 1
            let verification = try await store.verify()
            #expect(verification.isClean, "after iteration \(iteration) (\(operation)): \(verification.problems)")
        }
        // Kills landed before, during and after the writes: both outcomes were seen, and some kills
        // interrupted a write that recovery then finished or undid.
        #expect(outcomes.count >= 5, "outcomes: \(outcomes)")
        #expect(outcomes["interrupted mid-write", default: 0] >= 3, "outcomes: \(outcomes)")
        print("crash outcomes (kills within \(spans) µs × \(scale)):", outcomes.sorted { $0.key < $1.key })
    }

    @Test("two processes deploying and deleting 1,000 versions concurrently lose nothing", .timeLimit(.minutes(5)))
    func concurrentProcesses() async throws {
        let root = temporaryRoot("concurrent")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await openStore(root)
        let helpers = try ["a", "b"].map { try Helper([root, "churn", "shared", $0, "500", "same-model"]) }
        for helper in helpers {
            #expect(try await helper.nextLine() == "ready")
            #expect(try await helper.nextLine() == "done")
            #expect(try await helper.wait() == 0)
        }
        let store = try await openStore(root)
        let versions = Set(try await store.listServices(.named("shared")).map(\.version))
        var expected = Set<String>()
        for prefix in ["a", "b"] {
            for index in 0..<500 where !(index % 4 == 2 && index + 1 < 500) {
                expected.insert("\(prefix)-\(index)")
            }
        }
        #expect(versions == expected, "missing: \(expected.subtracting(versions).sorted().prefix(5)), extra: \(versions.subtracting(expected).sorted().prefix(5))")
        let verification = try await store.verify()
        #expect(verification.isClean && verification.blobs == 1, "\(verification.problems)")
        let sequences = try await store.listServices(.named("shared")).map(\.version)
        #expect(sequences.count == expected.count)
    }
}

/// Runs a command, returning its exit status.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
