import Foundation
import MLDeploy
import Testing

@Suite("Service definitions and builders")
struct DefinitionTests {
    func client() async throws -> DeployClient {
        try await DeployClient(target: .backend(ProbeBackend()))
    }

    @Test("accumulates and replaces the way the Python SDK's ServiceDefinition does")
    func accumulation() async throws {
        let client = try await self.client()
        defer { Task { try await client.shutdown() } }
        let definition = client.service("s")
            .code("first", initCode: "init")
            .code("second")  // a later code() without init clears it
            .objects(["a": .value(1)]).object("b", 2).object("a", 3)
            .models(["m": .pickled(Data([0x80, 0x04]))])
            .inputs(["hp": .numeric, "wt": .numeric]).inputs(["hp": .integer, "cyl": .integer])
            .outputs(spelled: ["answer": "pandas.DataFrame"])
            .artifacts(["a.csv"]).artifact("b.csv").artifacts(nil)
            .definition
        #expect(definition.code == "second" && definition.initCode == nil)
        #expect(definition.objects == ["a": .value(3), "b": .value(2)])
        #expect(definition.namespace.keys.sorted() == ["a", "b", "m"])
        #expect(definition.inputs == [.init(name: "hp", type: .integer), .init(name: "wt", type: .numeric), .init(name: "cyl", type: .integer)])
        #expect(definition.outputs == [.init(name: "answer", type: .dataFrame)])
        #expect(definition.artifacts == ["a.csv", "b.csv"])
        #expect(definition.effectiveAlias == nil)
        try await client.shutdown()
    }

    @Test("the alias defaults to the handler's name, and an explicit alias wins")
    func aliasDefault() async throws {
        let client = try await self.client()
        let named = try await client.service("h").version("1").handler("manualTransmission") { _ in }.deploy()
        #expect(named.alias == "manualTransmission")
        let explicit = try await client.service("h").version("2").handler("x") { _ in }.alias("score").deploy()
        #expect(explicit.alias == "score")
        let plain = try await client.service("c").version("1").handler("y") { _ in }.deploy()
        #expect(plain.info.operationID == "y")
        try await client.shutdown()
    }

    @Test("an unknown type spelling fails the deploy before anything is sent")
    func unknownSpelling() async throws {
        let probe = ProbeBackend()
        try await withDeployClient(target: .backend(probe)) { client in
            await #expect { try await client.service("s").handler("h") { _ in }.inputs(spelled: ["x": "ndarray"]).deploy() } throws: {
                ($0 as? MLDeployError)?.code == .unknownParameterType && "\($0)".contains("'x'")
            }
        }
        #expect(!probe.calls.contains { $0.hasPrefix("deploy") })
    }

    @Test("a realtime builder takes exactly one model")
    func oneModel() async throws {
        let client = try await DeployClient(target: .backend(ProbeBackend(capabilities: [.realtime])))
        let twice = client.realtimeService("rt").serializedModel(Data([1])).serializedModel(Data([2]))
        #expect(twice.definition.serializedModel == Data([1]))
        await #expect { try await twice.deploy() } throws: { "\($0)".contains("one and only one model") }
        #expect(client.realtimeService("rt").serializedModel(nil).definition.serializedModel == nil)
        await #expect { try await client.realtimeService("rt").serializedModel(Data()).deploy() } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
        try await client.shutdown()
    }

    @Test("reads the Python SDK's option keys")
    func options() throws {
        let definition = try ServiceDefinition(name: "AllTypes", options: [
            "version": "1.0", "description": "d", "alias": "run_me", "code_str": "answer = 1", "init_str": "import os",
            "inputs": ["i": "int", "f": "float", "d": "pandas.DataFrame"], "outputs": ["answer": "int"],
            "artifacts": ["a.csv"], "objects": ["threshold": 0.5], "models": ["weights": [1, 2]], "alias_ignored": nil,
        ] as JSONObject)
        #expect(definition.version == "1.0" && definition.alias == "run_me" && definition.code == "answer = 1" && definition.initCode == "import os")
        #expect(definition.inputs?.map(\.type) == [.integer, .numeric, .dataFrame])
        #expect(definition.objects == ["threshold": .value(0.5)])
        #expect(definition.models == ["weights": .value([1, 2])])
        #expect(definition.artifacts == ["a.csv"])
        #expect(throws: MLDeployError.self) { try ServiceDefinition(name: "x", options: ["inputs": ["a": 1]]) }
        #expect(throws: MLDeployError.self) { try ServiceDefinition(name: "x", options: ["version": 1]) }
        #expect(throws: MLDeployError.self) { try ServiceDefinition(name: "x", options: ["artifacts": "a.csv"]) }
        #expect(throws: MLDeployError.self) { try ServiceDefinition(name: "x", options: ["objects": ["o": ["nested": ["deep": 1]]]]) }
    }

    @Test("validation names the first problem", arguments: [
        (ServiceDefinition(name: "s", version: "1"), "no code"),
        (ServiceDefinition(name: "s", code: "   \n"), "empty code"),
        (ServiceDefinition(name: "s", code: "x", objects: ["bad-name": .value(1)]), "object name"),
        (ServiceDefinition(name: "s", code: "x", artifacts: ["a", "a"]), "artifact 'a' twice"),
        (ServiceDefinition(name: "s", initCode: "i", handler: ServiceHandler("h") { _ in }), "init code"),
    ])
    func validation(definition: ServiceDefinition, fragment: String) {
        #expect { try definition.validate(for: .deploy) } throws: { "\($0)".contains(fragment) }
    }

    @Test("a redeploy validates without code but needs a version")
    func redeployValidation() throws {
        try ServiceDefinition(name: "s", version: "1", description: "d").validate(for: .redeploy)
        #expect { try ServiceDefinition(name: "s").validate(for: .redeploy) } throws: { ($0 as? MLDeployError)?.code == .missingVersion }
    }
}

extension ServiceDefinition: CustomTestStringConvertible {
    public var testDescription: String { "\(self.name) code:\(self.code != nil) handler:\(self.handler != nil)" }
}
