import Foundation
import MLDeploy
import MLDeployONNX

extension BackendConformance {
    static let consumeChecks: [ConformanceCheck] = [
        ConformanceCheck("consume-every-type", "each of the seven parameter types round-trips through a call unchanged") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.echo(h, client))
            let inputs = try Fixtures.echoInputs()
            let response = try await service.consume(inputs)
            try h.expect(response.success, "echo failed: \(response.errorMessage ?? "")")
            for (name, value) in inputs {
                try h.expectEqual(response.output(name + "_out"), value, "output \(name)_out")
            }
            let nulls = try await service.consume(Dictionary(uniqueKeysWithValues: inputs.keys.map { ($0, MLValue.null) }))
            for name in inputs.keys {
                try h.expectEqual(nulls.output(name + "_out"), MLValue.null, "null \(name)_out")
            }
        },
        ConformanceCheck("consume-call-styles", "a service is callable by named inputs, positionally, and by its alias") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.add(h, client))
            try h.expectEqual(try await service.consume(["a": 1, "b": 2.5]).output("sum"), .numeric(3.5), "named")
            try h.expectEqual(try await service(1, 2.5).output("sum"), .numeric(3.5), "positional")
            try h.expectEqual(try await service.consume(positional: [2, 2]).output("sum"), .numeric(4), "positional array")
            try h.expectEqual(try await service.add(a: 1, b: 2.5).output("sum"), .numeric(3.5), "alias with names")
            try h.expectEqual(try await service.add(1, b: 2.5).output("sum"), .numeric(3.5), "alias mixing positions and names")
            try h.expectEqual(try await service.consume(alias: "add", ["a": 1, "b": 2.5]).output("sum"), .numeric(3.5), "alias by string")
            try await h.expectError(.invalidArgument, "a name that is not the alias") { try await service.subtract(a: 1, b: 2) }
            let fetched = try await client.getService(h.name("add"))
            try h.expectEqual(try await fetched.add(a: 2, b: 3).output("sum"), .numeric(5), "alias on a fetched service")
        },
        ConformanceCheck("artifacts-and-console", "declared artifacts come back decoded, and console output is captured") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.add(h, client))
            let response = try await service.consume(["a": 1, "b": 2])
            try h.expectEqual(response.artifactNames, ["result.txt"], "artifact names")
            try h.expectEqual(try response.artifact("result.txt", encoding: .utf8), "3.0", "artifact text")
            try h.expectEqual(try response.artifact("result.txt"), Data("3.0".utf8), "artifact bytes")
            try h.expectEqual(response.rawArtifact("result.txt"), Data("3.0".utf8).base64EncodedString(), "raw artifact")
            try h.expect(response.consoleOutput.contains("adding 1.0 and 2.0"), "console output was '\(response.consoleOutput)'")
            try h.expect(try response.artifact("absent.txt") == nil, "an absent artifact is nil")
        },
        ConformanceCheck("only-declared-artifacts", "a call returns only the artifacts the service declares, whatever else its code writes — from the backend itself, not only after the client filters") { h in
            let (client, recorder) = try await h.client(authenticate: true)
            let service = try await h.deploy(Fixtures.scribbler(h, client))
            let response = try await service.consume(["x": 1])
            try h.expect(response.success, "the scribbler failed: \(response.errorMessage ?? "")")
            try h.expectEqual(response.artifactNames, ["kept.txt"], "artifacts the client hands on")
            if client.capabilities.contains(.batch) {
                let batch = try await service.batch([["x": 1], ["x": 2]])
                let results = try await batch.wait(pollingInterval: .milliseconds(20))
                try h.expectEqual(results.results.map(\.response.artifactNames), [["kept.txt"], ["kept.txt"]], "batch artifacts the client hands on")
            }
            for names in recorder.returnedArtifactNames where names != ["kept.txt"] {
                throw h.fail("the backend returned the artifacts \(names); only the declared kept.txt may come back")
            }
        },
        ConformanceCheck("service-failure-is-response", "service code that fails gives a failed response with the reason and the console output, not a thrown error") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.failing(h, client))
            let response = try await service.consume(["x": 1])
            try h.expect(!response.success, "a failing service reported success")
            try h.expect(response.errorMessage?.contains("boom") == true, "error message was '\(response.errorMessage ?? "nil")'")
            try h.expect(response.consoleOutput.contains("before failure"), "console output was '\(response.consoleOutput)'")
        },
        ConformanceCheck("output-type-mismatch", "an output of the wrong type is an output-mismatch error naming it") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.badOutput(h, client))
            let error = try await h.expectError(.outputMismatch, "string where an integer is declared") { try await service.consume(["x": 1]) }
            try h.expect(error.message.contains("'n'"), "the error names the output: \(error.message)")
        },
        ConformanceCheck("concurrent-operations", "many deploys and calls at once all succeed and nothing is lost") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.add(h, client, version: "base"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { _ = try await h.deploy(Fixtures.add(h, client, version: "v\(index)")) }
                    group.addTask {
                        let sum = try await service.consume(["a": .integer(index), "b": 1]).output("sum")
                        try h.expectEqual(sum, .numeric(Double(index + 1)), "concurrent call \(index)")
                    }
                }
                try await group.waitForAll()
            }
            let versions = Set(try await h.versions(of: h.name("add"), client: client))
            try h.expectEqual(versions, Set(["base"] + (0..<20).map { "v\($0)" }), "versions after concurrent deploys")
        },
        ConformanceCheck("swagger", "a service's swagger document describes its consume and batch paths and its parameters") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.add(h, client))
            let document = try await service.swagger()
            let paths = document["paths"]?.objectValue?.keys ?? []
            try h.expect(paths.contains(service.info.apiPath), "paths \(paths) lack \(service.info.apiPath)")
            try h.expect(paths.contains(service.info.apiPath + "/batch"), "paths lack the batch path")
            let inputs = document["definitions"]?["InputParameters"]?["properties"]?.objectValue?.keys ?? []
            try h.expectEqual(inputs, ["a", "b"], "input properties")
            try h.expectEqual(document["info"]?["title"], .string(h.name("add")), "title")
        },
        ConformanceCheck("realtime-metadata", "a realtime service stores its model with the fixed inputData/outputData schema, or is refused as unsupported") { h in
            let client = try await h.client()
            let builder = client.realtimeService(h.name("rt")).version("1.0").description("realtime").serializedModel(ONNXModel.linearRegressor(coefficients: [2], intercept: 1))
            guard client.capabilities.contains(.realtime) else {
                try await h.expectError(.unsupported, "realtime on a backend without it") { try await builder.deploy() }
                return
            }
            let service = try await h.deploy(builder)
            try h.expectEqual(service.info.runtime, .realtime, "runtime")
            try h.expectEqual(service.info.inputs, RealtimeDefinition.inputs, "inputs")
            try h.expectEqual(service.info.outputs, RealtimeDefinition.outputs, "outputs")
            try h.expectEqual(service.alias, "consume", "default alias")
            try await h.expectError(.conflict, "second realtime deploy of 1.0") {
                try await client.realtimeService(h.name("rt")).version("1.0").serializedModel(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)).deploy()
            }
            let patched = try await client.realtimeService(h.name("rt")).version("1.0").description("patched").redeploy()
            try h.expectEqual(patched.info.description, "patched", "redeployed description")
            try await h.expectError(.invalidArgument, "two models") {
                try await client.realtimeService(h.name("rt2")).serializedModel(ONNXModel.linearRegressor(coefficients: [1], intercept: 0)).serializedModel(ONNXModel.linearRegressor(coefficients: [2], intercept: 0)).deploy()
            }
            try await h.expectError(.invalidArgument, "no model") { try await client.realtimeService(h.name("rt3")).deploy() }
            try h.expectEqual(try await h.versions(of: h.name("rt2"), client: client), [], "nothing stored for a refused realtime deploy")
        },
    ]
}
