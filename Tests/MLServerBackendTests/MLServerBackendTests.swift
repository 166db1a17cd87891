import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployHTTP
import MLDeployServer
import MLServerBackend
import Testing

@Suite("MLServer backend against a real server")
struct MLServerBackendTests {
    /// pickle.dumps(50, protocol=4), as the SDK uploads objects.
    static let pickledFifty = Data([0x80, 0x04, 0x4B, 0x32, 0x2E])

    @Test("publishes Python with pickled and simple objects; consumes, lists three ways, redeploys and deletes")
    func publishAndConsume() async throws {
        try await LocalMLServer.with { server in
            let client = try await server.client(LocalMLServer.contributor)
            let frame = try DataFrame(["a": [.numeric(1), .numeric(2)], "b": [.character("x"), .character("y")]])
            let service = try await client.service("scorer").version("1.0").description("Scores")
                .code("import numpy\ntotal = float(x * factor + local_obj + weights.sum() + frame['a'].sum())\nkinds = [type(weights).__name__, type(frame).__name__, type(factor).__name__]", initCode: "import math")
                .object("factor", .numeric(3)).object("weights", .vector([.integer(1), .integer(2), .integer(3)])).object("frame", .dataFrame(frame))
                .object("local_obj", pickled: Self.pickledFifty)
                .inputs(["x": .numeric]).outputs(["total": .numeric, "kinds": .vector])
                .deploy()
            #expect(service.info.version == "1.0" && service.info.description == "Scores" && service.info.publishedBy == "carol")
            let answer = try await service.consume(["x": .numeric(2)])
            #expect(answer.success, "\(answer.errorMessage ?? "")")
            #expect(answer.output("total")?.doubleValue == 65, "2 × 3 + 50 + (1 + 2 + 3) + (1 + 2)")
            #expect(answer.output("kinds")?.vectorValue == [.character("ndarray"), .character("DataFrame"), .character("float")])

            // Without a version: the server's generated one, which is then the latest.
            let generated = try await client.service("scorer").code("total = x").inputs(["x": .numeric]).outputs(["total": .numeric]).deploy()
            #expect(generated.info.version != "1.0" && !generated.info.version.isEmpty)
            #expect(try await client.getService("scorer").info.version == generated.info.version)
            #expect(try await client.getService("scorer", version: "1.0").info.description == "Scores")
            #expect(try await client.listServices("scorer").map(\.version) == ["1.0", generated.info.version])
            #expect(try await client.listServices("scorer", version: "1.0").count == 1)
            #expect(try await client.listServices().contains { $0.name == "scorer" })
            #expect(try await client.listServices("nobody").isEmpty)

            // Redeploying without a version changes the latest (the Python SDK always fails here).
            #expect(try await client.service("scorer").description("newest").redeploy().info.version == generated.info.version)
            #expect(try await client.getService("scorer", version: generated.info.version).info.description == "newest")

            // A description-only redeploy keeps the objects (no snapshot is sent).
            let redeployed = try await client.service("scorer").version("1.0").description("Rescored").redeploy()
            #expect(redeployed.info.description == "Rescored")
            #expect(try await redeployed.consume(["x": .numeric(2)]).output("total")?.doubleValue == 65)

            // Swagger, then delete.
            let swagger = try await redeployed.swagger()
            #expect(swagger["paths"]?.objectValue?.keys.contains { $0.contains("scorer") } == true, "\(swagger)")
            try await client.deleteService("scorer", version: "1.0")
            await #expect { try await client.getService("scorer", version: "1.0") } throws: { ($0 as? MLDeployError)?.code == .notFound }
            try await client.shutdown()
        }
    }

    @Test("a service whose code raises answers success false; bad input is a typed error")
    func failures() async throws {
        try await LocalMLServer.with { server in
            let client = try await server.client()
            let service = try await client.service("raiser").version("1").code("raise ValueError('no good: %s' % x)").inputs(["x": .character]).outputs(["y": .integer]).deploy()
            let failed = try await service.consume(["x": .character("abc")])
            #expect(!failed.success && failed.errorMessage?.contains("no good: abc") == true)
            await #expect { try await service.consume(["x": .integer(5)]) } throws: { ($0 as? MLDeployError)?.code == .inputMismatch }
            await #expect { try await client.service("raiser").version("1").code("y = 1").deploy() } throws: { ($0 as? MLDeployError)?.code == .conflict }
            await #expect { try await client.service("swifty").version("1").handler("h") { _ in }.deploy() } throws: { ($0 as? MLDeployError)?.code == .unsupported }
            await #expect { try await client.deleteService("nope", version: "1") } throws: { ($0 as? MLDeployError)?.code == .notFound }
            try await client.shutdown()

            // A Reader may consume but not publish.
            let reader = try await server.client(LocalMLServer.reader)
            #expect(try await reader.getService("raiser", version: "1").info.name == "raiser")
            await #expect { try await reader.service("mine").version("1").code("y = 1").deploy() } throws: { ($0 as? MLDeployError)?.code == .permissionDenied }
            try await reader.shutdown()
        }
    }

    @Test("credentials: a wrong password fails at authentication, a token works, no credentials get 401s")
    func credentials() async throws {
        try await LocalMLServer.with { server in
            await #expect { try await server.client(.password(username: "admin", password: "wrong")) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
            let token = try await server.server.issueTokens(for: "admin").accessToken
            let byToken = try await server.client(.accessToken(token))
            #expect(try await byToken.listServices().isEmpty)
            try await byToken.shutdown()
            let anonymous = try await server.client(nil)
            await #expect { try await anonymous.listServices() } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
            try await anonymous.shutdown()
        }
    }

    @Test("targets: by name, by the Python SDK's class path, by URI; a bad address is a clear error")
    func targets() async throws {
        try await LocalMLServer.with { server in
            let registry = BackendRegistry.mlServerOnly
            var http = HTTPClient.Configuration()
            http.proxy = .none
            for target in [DeployTarget.named("MLServer", host: server.base), .named("azureml.deploy.server.MLServer", host: server.base),
                           .uri("mlserver+http://127.0.0.1:\(server.port)"), .named("mlserver", host: "127.0.0.1:\(server.port)/")] {
                let client = try await DeployClient(target: target, auth: LocalMLServer.owner, http: http, registry: registry)
                #expect(try await client.listServices().isEmpty, "\(target)")
                try await client.shutdown()
            }
            // An instance handed over directly makes its own HTTP client.
            let direct = try await DeployClient(target: .backend(try MLServerBackend(baseURL: server.base)), auth: LocalMLServer.owner)
            #expect(try await direct.listServices().isEmpty)
            try await direct.shutdown()
            for bad in [DeployTarget.named("MLServer"), .named("MLServer", host: "ftp://host"), .named("MLServer", host: "http://")] {
                await #expect { try await DeployClient(target: bad, registry: registry) } throws: { ($0 as? MLDeployError)?.code == .invalidTarget }
            }
        }
    }

    @Test("realtime models publish as multipart, redeploy with only the given parts, and list as realtime")
    func realtime() async throws {
        try await LocalMLServer.with { server in
            let client = try await server.client()
            let model = ONNXModel.linearRegressor(coefficients: [2], intercept: 1)
            let published = try await client.realtimeService("LinMod").version("1.0").description("Linear").alias("score").serializedModel(model).deploy()
            #expect(published.info.runtime == .realtime && published.info.description == "Linear")
            #expect(published.info.inputs.map(\.name) == ["inputData"] && published.info.outputs.map(\.name) == ["outputData"])
            let redeployed = try await client.realtimeService("LinMod").version("1.0").serializedModel(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)).redeploy()
            #expect(redeployed.info.description == "Linear", "parts not sent stay as they were")
            let scored = try await redeployed.consume(["inputData": .dataFrame(try DataFrame(["x": [.numeric(2)]]))])
            #expect(scored.output("outputData")?.dataFrameValue == (try DataFrame(["variable": [.numeric(6)]])), "scored natively by the server with the new model")
            await #expect { try await client.realtimeService("Rx").version("1").serializedModel(Data("blob\u{0}\u{1}rx".utf8)).deploy() } throws: {
                ($0 as? MLDeployError)?.code == .unsupported
            }
            let unversioned = try await client.realtimeService("NoVer").serializedModel(model).deploy()
            #expect(!unversioned.info.version.isEmpty)
            try await client.shutdown()
        }
    }

    @Test("batch: start, wait, results in record order, artifacts, list and cancel")
    func batch() async throws {
        try await LocalMLServer.with { server in
            let client = try await server.client()
            let service = try await client.service("batchy").version("1")
                .code("y = x * 2\nwith open('out.txt', 'w') as f:\n    f.write('row %d' % x)")
                .inputs(["x": .integer]).outputs(["y": .integer]).artifact("out.txt").deploy()
            let batch = try await service.batch((0..<6).map { ["x": .integer($0)] }, parallelCount: 3)
            let status = try await batch.wait()
            #expect(status.state == .complete && status.totalItemCount == 6 && status.completedItemCount == 6)
            #expect(status.results.map { $0.response.output("y")?.intValue } == (0..<6).map { $0 * 2 })
            #expect(try await batch.artifactNames(index: 4) == ["out.txt"])
            #expect(String(decoding: try await batch.artifact(index: 4, fileName: "out.txt"), as: UTF8.self) == "row 4")
            #expect(try await service.batchExecutions().contains(batch.executionID))
            try await batch.cancel()
            #expect(try await !service.batchExecutions().contains(batch.executionID))
            try await client.shutdown()
        }
    }
}
