import Foundation
import InMemoryBackend
import MLDeploy
import MLDeployONNX
import Testing

@Suite("MemoryBackend")
struct MemoryBackendTests {
    func deployAdd(_ client: DeployClient, version: String = "1.0") async throws -> Service {
        try await client.service("add").version(version)
            .handler("add") { call in call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b")) }
            .inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric])
            .deploy()
    }

    @Test("is reachable as memory: and by name once registered")
    func registration() async throws {
        let registry = BackendRegistry()
        try registry.register(.memory)
        for target: DeployTarget in ["memory:", "memory", "MEMORY"] {
            try await withDeployClient(target: target, registry: registry) { client in
                #expect(client.backend is MemoryBackend)
                #expect(try await client.listServices().isEmpty, "each client created from the registry gets a fresh store")
                _ = try await self.deployAdd(client)
            }
        }
    }

    @Test("one instance shared by two clients shares its services, and outlives a client's shutdown")
    func sharedInstance() async throws {
        let backend = MemoryBackend()
        try await withDeployClient(target: .backend(backend)) { client in _ = try await self.deployAdd(client) }
        try await withDeployClient(target: .backend(backend)) { client in
            let sum = try await client.getService("add").consume(["a": 1, "b": 2]).output("sum")
            #expect(sum == .numeric(3))
        }
    }

    @Test("fails the next N chosen operations with the chosen error, and only those")
    func failNext() async throws {
        let backend = MemoryBackend()
        try await withDeployClient(target: .backend(backend)) { client in
            let service = try await self.deployAdd(client)
            let unavailable = MLDeployError(code: .backendFailure, message: "503 Service Unavailable", httpStatus: 503)
            backend.faults.failNext(2, with: unavailable, operations: [.consume])
            for _ in 0..<2 {
                await #expect { try await service.consume(["a": 1, "b": 1]) } throws: { ($0 as? MLDeployError)?.httpStatus == 503 }
            }
            _ = try await client.listServices()
            #expect(try await service.consume(["a": 1, "b": 1]).output("sum") == .numeric(2))
            #expect(backend.faults.injectedCount == 2)

            backend.faults.failNext(1)
            await #expect { try await client.listServices() } throws: { ($0 as? MLDeployError)?.code == .injectedFault }
            _ = try await client.listServices()
        }
    }

    @Test("a failed deploy changes nothing")
    func failedDeployLeavesNothing() async throws {
        let backend = MemoryBackend()
        try await withDeployClient(target: .backend(backend)) { client in
            backend.faults.failNext(1, operations: [.deployService])
            await #expect(throws: MLDeployError.self) { try await self.deployAdd(client) }
            #expect(try await client.listServices().isEmpty)
            _ = try await self.deployAdd(client)
        }
    }

    @Test("adds latency to the chosen operations")
    func latency() async throws {
        let backend = MemoryBackend()
        try await withDeployClient(target: .backend(backend)) { client in
            backend.faults.addLatency(.milliseconds(150), operations: [.listServices])
            let clock = ContinuousClock()
            let slow = try await clock.measure { _ = try await client.listServices() }
            #expect(slow >= .milliseconds(150))
            backend.faults.addLatency(.zero, operations: [.listServices])
            backend.faults.reset()
            #expect(backend.faults.injectedCount == 0)
        }
    }

    @Test("runs Python services in its worker pool, and drops their workers when a version is deleted")
    func pythonRuns() async throws {
        let backend = MemoryBackend()
        try await withDeployClient(target: .backend(backend)) { client in
            let service = try await client.service("py").version("1").code("answer = x * factor", initCode: "import math")
                .inputs(["x": .numeric]).outputs(["answer": .numeric]).object("factor", 2)
                .deploy()
            #expect(service.info.runtime == .python)
            #expect(service.info.code == "answer = x * factor" && service.info.initCode == "import math")
            let answer = try await service.consume(["x": 21]).output("answer")
            #expect(answer == .numeric(42))
            let batch = try await service.batch([["x": 1], ["x": 2]])
            let status = try await batch.wait(pollingInterval: .milliseconds(10))
            #expect(status.response(at: 1)?.output("answer") == .numeric(4))
            // A redeploy with new objects is seen by the next call.
            _ = try await client.service("py").version("1").object("factor", 10).redeploy()
            let redeployed = try await client.getService("py", version: "1").consume(["x": 2]).output("answer")
            #expect(redeployed == .numeric(20))
            try await client.deleteService("py", version: "1")
        }
    }

    @Test("refuses Python services clearly when created without a Python runtime")
    func withoutPython() async throws {
        try await withDeployClient(target: .backend(MemoryBackend(python: nil))) { client in
            let service = try await client.service("py").version("1").code("answer = 1").inputs(["x": .numeric]).outputs(["answer": .numeric]).deploy()
            await #expect { try await service.consume(["x": 1]) } throws: {
                ($0 as? MLDeployError)?.code == .pythonRuntimeUnavailable && "\($0)".contains("'py'")
            }
        }
    }

    @Test("reads python.* options from its configuration and refuses bad ones")
    func pythonOptions() async throws {
        let registry = BackendRegistry()
        try registry.register(.memory)
        try await withDeployClient(target: .uri("memory:", options: ["python.maxWorkers": "1"]), registry: registry) { _ in }
        await #expect { try await DeployClient(target: .uri("memory:", options: ["python.maxWorkers": "many"]), registry: registry) } throws: {
            "\($0)".contains("python.maxWorkers")
        }
    }

    @Test("the realtime.batching option batches concurrent realtime calls; a bad one is refused naming it")
    func realtimeBatchingOption() async throws {
        let registry = BackendRegistry()
        try registry.register(.memory)
        try await withDeployClient(target: .uri("memory:", options: ["realtime.batching": "rt:8:100ms"]), registry: registry) { client in
            let service = try await client.realtimeService("rt").version("1").serializedModel(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)).deploy()
            let answers = try await withThrowingTaskGroup(of: (Int, Double?).self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let frame = try DataFrame(columns: [DataFrame.Column(name: "x", values: [.numeric(Double(index))])])
                        let response = try await service.consume(["inputData": .dataFrame(frame)])
                        return (index, response.output("outputData")?.dataFrameValue?["variable"]?.first?.doubleValue)
                    }
                }
                return try await group.reduce(into: [Int: Double?]()) { $0[$1.0] = $1.1 }
            }
            #expect((0..<8).allSatisfy { answers[$0] == 2 * Double($0) + 1 }, "\(answers)")
        }
        await #expect { try await DeployClient(target: .uri("memory:", options: ["realtime.batching": "rt:8"]), registry: registry) } throws: {
            "\($0)".contains("realtime.batching")
        }
    }

    @Test("records who published each version")
    func publisher() async throws {
        try await withDeployClient(target: .backend(MemoryBackend()), auth: .password(username: "alice", password: "x")) { client in
            let service = try await self.deployAdd(client)
            #expect(service.info.publishedBy == "alice")
        }
    }

    @Test("switches a version between Python and Swift on redeploy, and refuses mixing realtime and standard")
    func runtimeSwitch() async throws {
        try await withDeployClient(target: .backend(MemoryBackend())) { client in
            _ = try await client.service("s").version("1").code("y = 1").inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric]).deploy()
            let swift = try await client.service("s").version("1").handler("add") { call in call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b")) }.redeploy()
            #expect(swift.info.runtime == .swift && swift.alias == "add")
            #expect(try await swift.add(a: 2, b: 2).output("sum") == .numeric(4))
            _ = try await client.realtimeService("rt").version("1").serializedModel(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)).deploy()
            await #expect { try await client.service("rt").version("1").description("x").redeploy() } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
            await #expect { try await client.realtimeService("s").version("1").description("x").redeploy() } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
            let scored = try await client.getService("rt").consume(["inputData": .dataFrame(try DataFrame(["x": [1]]))])
            #expect(scored.output("outputData")?.dataFrameValue == (try DataFrame(["variable": [.numeric(3)]])))
        }
    }

    @Test("deleting a version cancels and forgets its batches")
    func deleteCancelsBatches() async throws {
        try await withDeployClient(target: .backend(MemoryBackend())) { client in
            let service = try await client.service("slow").version("1").inputs(["x": .integer])
                .handler("slow") { _ in try await Task.sleep(for: .seconds(30)) }.deploy()
            let batch = try await service.batch([["x": 1]])
            try await client.deleteService("slow", version: "1")
            await #expect { try await batch.status() } throws: { ($0 as? MLDeployError)?.code == .notFound }
        }
    }
}
