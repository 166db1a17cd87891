import Foundation
import MLDeploy
import MLDeployConformance
import MLDeployCrypto
import MLDeployPlugin
import MLDeployTestSupport
import Testing

/// The Swift example plugin (`mldeploy-backend-wrapped`, built beside this test binary) driven
/// through ordinary `DeployClient`s: the registry finds it, every operation crosses the pipe.
@Suite("Backend plugins: the Swift example")
struct PluginBackendTests {
    static let registry = PluginFixtures.registry([PluginFixtures.buildDirectory])

    /// One check at a time: each starts plugin processes and Python workers, and the other suites
    /// run beside it on two cores.
    @Test("the conformance suite passes through a plugin wrapping the file store", .serialized, arguments: BackendConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        let root = try temporaryDirectory("plugin-conformance")
        defer { try? FileManager.default.removeItem(at: root) }
        let target = DeployTarget.uri("wrapped:file:\(root.path)/services")
        try await check.run(ConformanceConfiguration(flavor: .python) { try target.makeBackend(in: Self.registry) })
    }

    @Test("a registry resolves the plugin by name and by scheme; the backend is a PluginBackend with the plugin's capabilities")
    func resolution() async throws {
        let registration = try #require(Self.registry.registration(forScheme: "wrapped"))
        #expect(registration.name == "wrapped" && registration.summary.contains("mldeploy-backend-wrapped"))
        #expect(Self.registry.registration(named: "WRAPPED") != nil)
        try await withDeployClient(target: "wrapped", registry: Self.registry) { client in
            let backend = try #require(client.backend as? PluginBackend)
            #expect(backend.handshake?.summary.contains("wraps") == true)
            #expect(client.capabilities.isSuperset(of: [.pythonServices, .swiftHandlers, .realtime, .batch, .batchArtifacts]))
            #expect(try await client.listServices().isEmpty)
        }
    }

    @Test("Swift handlers the plugin links run in the plugin; a handler it lacks is refused by name")
    func swiftHandlers() async throws {
        try await withDeployClient(target: "wrapped:memory:", registry: Self.registry) { client in
            let service = try await client.service("adder").version("1").handler(ServiceHandler("add") { _ in })
                .inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric]).deploy()
            #expect(try await service.consume(["a": 2, "b": 40]).output("sum") == .numeric(42))
            await #expect(throws: MLDeployError.self) {
                _ = try await client.service("missing").handler(ServiceHandler("notLinked") { _ in }).deploy()
            }
            do {
                _ = try await client.service("missing").handler(ServiceHandler("notLinked") { _ in }).deploy()
            } catch let error as MLDeployError {
                #expect(error.code == .unresolvedHandler && error.message.contains("notLinked"), "\(error)")
            }
        }
    }

    @Test("large pickled objects and batch artifacts travel as binary attachments, byte for byte")
    func largeBodies() async throws {
        let blob = Data((0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
        try await withDeployClient(target: "wrapped:memory:", registry: Self.registry) { client in
            let service = try await client.service("sizer").version("1")
                .code("import hashlib\nn = len(blob) + k\ndigest = hashlib.sha256(blob).hexdigest()\nopen('copy.bin', 'wb').write(blob[:1000000])")
                .objects(["blob": .pickled(try Self.pickledBytes(blob))])
                .inputs(["k": .integer]).outputs(["n": .integer, "digest": .character]).artifact("copy.bin").deploy()
            let result = try await service.consume(["k": 0])
            #expect(result.success, "\(result.errorMessage ?? "")")
            #expect(result.output("n") == .integer(blob.count))
            #expect(result.output("digest")?.stringValue == Self.sha256(blob))
            let batch = try await service.batch([["k": 1], ["k": 2]])
            let status = try await batch.wait(pollingInterval: .milliseconds(50))
            #expect(status.state == .complete)
            let bytes = try await batch.artifact(index: 1, fileName: "copy.bin")
            #expect(bytes == blob.prefix(1_000_000))
        }
    }

    @Test("cancelling a call cancels it in the plugin")
    func cancellation() async throws {
        let directory = try temporaryDirectory("plugin-cancel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("marker").path
        try await withDeployClient(target: "wrapped:memory:", registry: Self.registry) { client in
            let service = try await client.service("sleeper").version("1").handler(ServiceHandler("sleep") { _ in })
                .inputs(["seconds": .numeric, "marker": .character]).outputs(["slept": .logical]).deploy()
            let started = ContinuousClock.now
            let call = Task { try await service.consume(["seconds": 30, "marker": .character(marker)]) }
            try await Task.sleep(for: .milliseconds(500))
            call.cancel()
            do {
                _ = try await call.value
                Issue.record("the cancelled call returned")
            } catch let error as MLDeployError {
                #expect(error.code == .cancelled, "\(error)")
            }
            // Well before the handler's 30 s (generous: other suites load the machine meanwhile).
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(try await Processes.eventually(timeout: .seconds(20)) { FileManager.default.fileExists(atPath: marker) }, "the plugin's handler never saw the cancellation")
            // The plugin still serves.
            #expect(try await client.listServices().count == 1)
        }
    }

    @Test("each client runs its own plugin process; shutting one down ends its process and leaves the other serving")
    func processPerClient() async throws {
        let root = try temporaryDirectory("plugin-two")
        defer { try? FileManager.default.removeItem(at: root) }
        let target = DeployTarget.uri("wrapped:file:\(root.path)/services")
        let first = try await DeployClient(target: target, registry: Self.registry)
        let second = try await DeployClient(target: target, registry: Self.registry)
        let firstPID = try #require((first.backend as? PluginBackend)?.processID)
        let secondPID = try #require((second.backend as? PluginBackend)?.processID)
        #expect(firstPID != secondPID)
        _ = try await first.service("shared").version("1").code("y = 1").outputs(["y": .integer]).deploy()
        try await first.shutdown()
        #expect(try await Processes.eventually { Processes.isGone(firstPID) })
        #expect(try await second.listServices().map(\.name) == ["shared"])
        #expect(!Processes.isGone(secondPID))
        try await second.shutdown()
        #expect(try await Processes.eventually { Processes.isGone(secondPID) })
    }

    @Test("a plugin killed between calls is started again on the next call, which succeeds")
    func restartAfterKill() async throws {
        let root = try temporaryDirectory("plugin-restart")
        defer { try? FileManager.default.removeItem(at: root) }
        try await withDeployClient(target: .uri("wrapped:file:\(root.path)/services"), registry: Self.registry) { client in
            let backend = try #require(client.backend as? PluginBackend)
            _ = try await client.service("kept").version("1").code("y = 2").outputs(["y": .integer]).deploy()
            let pid = try #require(backend.processID)
            kill(pid, SIGKILL)
            #expect(try await Processes.eventually { Processes.isGone(pid) })
            let service = try await client.getService("kept", version: "1")
            #expect(try await service.consume([:]).output("y") == .integer(2))
            #expect(backend.processID != pid)
        }
    }

    /// A pickle (protocol 4) of a Python `bytes` object holding `data`, written without Python.
    static func pickledBytes(_ data: Data) throws -> Data {
        var bytes: [UInt8] = [0x80, 0x04, 0x8E]  // PROTO 4, BINBYTES8
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { bytes += $0 }
        bytes += data
        bytes.append(0x2E)  // STOP
        return Data(bytes)
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hex(data)
    }
}
