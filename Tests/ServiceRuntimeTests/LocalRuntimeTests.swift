import Foundation
import MLDeploy
import ServiceRuntime
import Synchronization
import Testing

@Suite("LocalRuntime and HandlerRegistry")
struct LocalRuntimeTests {
    static let service = ServiceInfo(
        name: "s", version: "1", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)],
        runtime: .swift, artifacts: ["kept.txt"]
    )

    @Test("resolves persisted handlers by name and reports an unregistered one")
    func namedHandlers() async throws {
        let registry = HandlerRegistry()
        let runtime = LocalRuntime(handlers: registry)
        await #expect { try await runtime.run(Self.service, implementation: .swiftHandlerNamed("double"), namespace: [:], inputs: ["x": 2]) } throws: {
            ($0 as? MLDeployError)?.code == .unresolvedHandler && "\($0)".contains("'double'")
        }
        registry.register(ServiceHandler("double") { call in call.outputs["y"] = .integer(try call.integer("x") * 2) })
        #expect(registry.names == ["double"])
        let response = try await runtime.run(Self.service, implementation: .swiftHandlerNamed("double"), namespace: [:], inputs: ["x": 2])
        #expect(response.output("y") == .integer(4))
        #expect(registry.unregister("double") && !registry.unregister("double"))
    }

    @Test("returns only declared artifacts and hands the handler its namespace")
    func artifactsAndNamespace() async throws {
        let handler = ServiceHandler("h") { call in
            call.outputs["y"] = .integer(call.objects["factor"]?.value?.intValue ?? 0)
            call.writeArtifact("kept.txt", text: "k")
            call.writeArtifact("dropped.txt", text: "d")
        }
        let response = try await LocalRuntime().run(Self.service, implementation: .swiftHandler(handler), namespace: ["factor": .value(7)], inputs: ["x": 1])
        #expect(response.output("y") == .integer(7))
        #expect(response.artifactNames == ["kept.txt"])
        #expect(response.changedFiles == ["kept.txt"])
    }

    @Test("a throwing handler is a failed response that keeps its console output")
    func failure() async throws {
        let handler = ServiceHandler("h") { call in
            call.print("step", 1)
            throw MLDeployError.invalidArgument("x must be positive")
        }
        let response = try await LocalRuntime().run(Self.service, implementation: .swiftHandler(handler), namespace: [:], inputs: ["x": -1])
        #expect(!response.success)
        #expect(response.errorMessage == "Handler 'h' failed: x must be positive")
        #expect(response.consoleOutput == "step 1\n")
    }

    @Test("a cancelled call is a cancelled error, not a failed response")
    func cancellation() async throws {
        let handler = ServiceHandler("h") { _ in try await Task.sleep(for: .seconds(30)) }
        let task = Task { try await LocalRuntime().run(Self.service, implementation: .swiftHandler(handler), namespace: [:], inputs: ["x": 1]) }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect { try await task.value } throws: { ($0 as? MLDeployError)?.code == .cancelled }
    }
}

@Suite("BatchCoordinator")
struct BatchCoordinatorTests {
    static let service = LocalRuntimeTests.service

    @Test("never runs more records at once than asked, and uses the parallelism it was given", arguments: [1, 3, 8])
    func parallelism(limit: Int) async throws {
        let coordinator = BatchCoordinator()
        let gauge = Mutex((running: 0, peak: 0))
        let records = (0..<12).map { ["x": MLValue.integer($0)] }
        let id = await coordinator.start(service: Self.service, records: records, parallelCount: limit) { index, inputs in
            gauge.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running) }
            try await Task.sleep(for: .milliseconds(20))
            gauge.withLock { $0.running -= 1 }
            return try ServiceResponse(service: Self.service, outputs: ["y": inputs["x"]!])
        }
        let reference = BatchReference(service: Self.service.reference, executionID: id)
        while try await !coordinator.status(reference, includeResults: false).isFinished {
            try await Task.sleep(for: .milliseconds(10))
        }
        let status = try await coordinator.status(reference, includeResults: true)
        #expect(status.state == .complete)
        #expect(status.results.map { $0.response.output("y") } == (0..<12).map { MLValue.integer($0) })
        #expect(gauge.withLock { $0.peak } == limit)
    }

    @Test("a record that throws becomes a failed response carrying the error code")
    func recordErrors() async throws {
        let coordinator = BatchCoordinator()
        let id = await coordinator.start(service: Self.service, records: [["x": 1], ["x": 2]], parallelCount: 2) { index, _ in
            if index == 1 { throw MLDeployError(code: .outputMismatch, message: "bad y") }
            return try ServiceResponse(service: Self.service, outputs: ["y": 1])
        }
        let reference = BatchReference(service: Self.service.reference, executionID: id)
        while try await !coordinator.status(reference, includeResults: false).isFinished { try await Task.sleep(for: .milliseconds(5)) }
        let status = try await coordinator.status(reference, includeResults: true)
        #expect(status.response(at: 0)?.success == true)
        #expect(status.response(at: 1)?.errorMessage == "[output-mismatch] bad y")
    }

    @Test("results past the memory limit go to files and come back whole, artifacts included; cancelling removes the files")
    func spooledResults() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-batch-spool-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: spool) }
        let coordinator = BatchCoordinator(resultMemoryLimit: 1 << 20, spoolDirectory: spool)
        let artifact = Data((0..<(300 << 10)).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let id = await coordinator.start(service: Self.service, records: (0..<6).map { ["x": MLValue.integer($0)] }, parallelCount: 2) { _, inputs in
            try ServiceResponse(service: Self.service, outputs: ["y": inputs["x"]!], artifacts: ["out.bin": artifact], consoleOutput: "ran \(inputs["x"]!)")
        }
        let reference = BatchReference(service: Self.service.reference, executionID: id)
        while try await !coordinator.status(reference, includeResults: false).isFinished { try await Task.sleep(for: .milliseconds(5)) }
        // ~410 KB of JSON each: two fit in 1 MiB, the other four are files.
        let files = try FileManager.default.contentsOfDirectory(atPath: spool.path)
        #expect(files.count == 4, "\(files)")
        let status = try await coordinator.status(reference, includeResults: true)
        #expect(status.state == .complete && status.completedItemCount == 6)
        #expect(status.results.map { $0.response.output("y") } == (0..<6).map { MLValue.integer($0) })
        #expect(status.results.map(\.response.consoleOutput) == (0..<6).map { "ran \(MLValue.integer($0))" })
        for index in 0..<6 {
            #expect(try await coordinator.artifact(reference, index: index, fileName: "out.bin") == artifact)
        }
        try await coordinator.cancel(reference)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path).isEmpty)
    }

    @Test("keeps at most the configured number of finished executions")
    func retention() async throws {
        let coordinator = BatchCoordinator(retainedExecutions: 3)
        var ids: [String] = []
        for _ in 0..<5 {
            let id = await coordinator.start(service: Self.service, records: [["x": 1]], parallelCount: 1) { _, _ in
                try ServiceResponse(service: Self.service, outputs: [:])
            }
            let reference = BatchReference(service: Self.service.reference, executionID: id)
            while try await !coordinator.status(reference, includeResults: false).isFinished { try await Task.sleep(for: .milliseconds(5)) }
            ids.append(id)
        }
        let kept = await coordinator.executionIDs(for: Self.service.reference)
        #expect(kept == Array(ids.suffix(3)))
    }
}
