import MLDeploy
import MLDeployONNX

extension BackendConformance {
    static let crudChecks: [ConformanceCheck] = [
        ConformanceCheck("deploy-and-get", "a deployed version reads back with the metadata it was deployed with") { h in
            let client = try await h.client()
            let deployed = try await h.deploy(Fixtures.add(h, client))
            let fetched = try await client.getService(h.name("add"), version: "1.0")
            for (what, info) in [("deploy result", deployed.info), ("get result", fetched.info)] {
                try h.expectEqual(info.name, h.name("add"), "\(what) name")
                try h.expectEqual(info.version, "1.0", "\(what) version")
                try h.expectEqual(info.description, "adds two numbers", "\(what) description")
                try h.expectEqual(info.alias, "add", "\(what) alias")
                try h.expectEqual(info.inputs, [ParameterDefinition(name: "a", type: .numeric), ParameterDefinition(name: "b", type: .numeric)], "\(what) inputs")
                try h.expectEqual(info.outputs, [ParameterDefinition(name: "sum", type: .numeric)], "\(what) outputs")
                try h.expectEqual(info.artifacts, ["result.txt"], "\(what) artifacts")
            }
        },
        ConformanceCheck("generated-version", "deploying without a version stores a generated, unique, valid version") { h in
            let client = try await h.client()
            let first = try await h.deploy(Fixtures.add(h, client, name: "gen", version: nil))
            let second = try await h.deploy(Fixtures.add(h, client, name: "gen", version: nil))
            for version in [first.version, second.version] {
                do {
                    try NameRules.checkVersion(version)
                } catch {
                    throw h.fail("generated version '\(version)' breaks the naming rules: \(error)")
                }
            }
            try h.expect(first.version != second.version, "two generated versions are equal: \(first.version)")
            try h.expectEqual(try await client.getService(h.name("gen")).version, second.version, "latest after two generated versions")
        },
        ConformanceCheck("duplicate-deploy-conflicts", "deploying an existing name and version fails with conflict and changes nothing") { h in
            let client = try await h.client()
            _ = try await h.deploy(Fixtures.add(h, client))
            try await h.expectError(.conflict, "second deploy of the same version") {
                try await Fixtures.add(h, client).description("a different description").deploy()
            }
            let info = try await client.getService(h.name("add"), version: "1.0").info
            try h.expectEqual(info.description, "adds two numbers", "description after the refused deploy")
            try h.expectEqual(try await h.versions(of: h.name("add"), client: client), ["1.0"], "versions after the refused deploy")
        },
        ConformanceCheck("redeploy-missing-not-found", "redeploying a version that does not exist fails with not-found and creates nothing") { h in
            let client = try await h.client()
            try await h.expectError(.notFound, "redeploy of a missing service") {
                try await Fixtures.add(h, client).redeploy()
            }
            _ = try await h.deploy(Fixtures.add(h, client))
            try await h.expectError(.notFound, "redeploy of a missing version") {
                try await Fixtures.add(h, client).version("9.9").redeploy()
            }
            try h.expectEqual(try await h.versions(of: h.name("add"), client: client), ["1.0"], "versions")
        },
        ConformanceCheck("redeploy-changes-only-given", "a redeploy changes exactly the fields it sets") { h in
            let client = try await h.client()
            _ = try await h.deploy(Fixtures.add(h, client))
            let updated = try await client.service(h.name("add")).version("1.0").description("patched").redeploy()
            try h.expectEqual(updated.info.description, "patched", "description")
            let info = try await client.getService(h.name("add"), version: "1.0").info
            try h.expectEqual(info.description, "patched", "stored description")
            try h.expectEqual(info.alias, "add", "alias kept")
            try h.expectEqual(info.inputs.map(\.name), ["a", "b"], "inputs kept")
            try h.expectEqual(info.outputs.map(\.name), ["sum"], "outputs kept")
            try h.expectEqual(info.artifacts, ["result.txt"], "artifacts kept")
            let response = try await client.getService(h.name("add"), version: "1.0").consume(["a": 1, "b": 2])
            try h.expectEqual(response.output("sum"), .numeric(3), "the code still runs")

            // Without a version, the latest version is changed.
            _ = try await h.deploy(Fixtures.add(h, client, version: "2.0"))
            let latest = try await client.service(h.name("add")).description("latest patched").redeploy()
            try h.expectEqual(latest.version, "2.0", "version changed by a redeploy without version")
            try h.expectEqual(try await client.getService(h.name("add"), version: "1.0").info.description, "patched", "older version untouched")
        },
        ConformanceCheck("redeploy-leaves-unset-fields", "every field a redeploy does not set keeps its value: description, alias, schema, artifacts, code; for realtime services, the model and description") { h in
            let client = try await h.client()
            _ = try await h.deploy(Fixtures.add(h, client))
            func expectKept(_ info: ServiceInfo, _ what: String, alias: String = "add") throws {
                try h.expectEqual(info.description, "adds two numbers", "\(what): description kept")
                try h.expectEqual(info.alias, alias, "\(what): alias")
                try h.expectEqual(info.inputs, [ParameterDefinition(name: "a", type: .numeric), ParameterDefinition(name: "b", type: .numeric)], "\(what): inputs kept")
                try h.expectEqual(info.outputs, [ParameterDefinition(name: "sum", type: .numeric)], "\(what): outputs kept")
                try h.expectEqual(info.artifacts, ["result.txt"], "\(what): artifacts kept")
            }
            let aliased = try await client.service(h.name("add")).version("1.0").alias("plus").redeploy()
            try expectKept(aliased.info, "result of a redeploy that sets only the alias", alias: "plus")
            try expectKept(try await client.getService(h.name("add"), version: "1.0").info, "stored after a redeploy that sets only the alias", alias: "plus")
            let recoded = try await Fixtures.addPlusOneCode(h, client).redeploy()
            try expectKept(recoded.info, "result of a redeploy that sets only the code", alias: "plus")
            let stored = try await client.getService(h.name("add"), version: "1.0")
            try expectKept(stored.info, "stored after a redeploy that sets only the code", alias: "plus")
            try h.expectEqual(try await stored.consume(["a": 1, "b": 2]).output("sum"), .numeric(4), "the new code runs")

            guard client.capabilities.contains(.realtime) else { return }
            let model = ONNXModel.linearRegressor(coefficients: [2], intercept: 1)
            _ = try await h.deploy(client.realtimeService(h.name("rt")).version("1.0").description("a model").alias("score").serializedModel(model))
            let remodeled = try await client.realtimeService(h.name("rt")).version("1.0").serializedModel(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)).redeploy()
            for (what, info) in [("result", remodeled.info), ("stored", try await client.getService(h.name("rt"), version: "1.0").info)] {
                try h.expectEqual(info.description, "a model", "realtime \(what) of a redeploy that sets only the model: description kept")
                try h.expectEqual(info.alias, "score", "realtime \(what) of a redeploy that sets only the model: alias kept")
            }
            let described = try await client.realtimeService(h.name("rt")).version("1.0").description("still a model").redeploy()
            try h.expectEqual(described.info.alias, "score", "realtime alias kept by a description-only redeploy")
        },
        ConformanceCheck("latest-is-most-recent", "without a version, get returns the most recently deployed version, not the greatest") { h in
            let client = try await h.client()
            for version in ["2.0", "10.0", "1.0"] {
                _ = try await h.deploy(Fixtures.add(h, client, version: version))
            }
            try h.expectEqual(try await client.getService(h.name("add")).version, "1.0", "latest")
            try h.expectEqual(try await h.versions(of: h.name("add"), client: client), ["2.0", "10.0", "1.0"], "versions oldest to newest")
        },
        ConformanceCheck("list-forms", "list all, by name, and by name and version") { h in
            let client = try await h.client()
            _ = try await h.deploy(Fixtures.add(h, client, name: "one", version: "1.0"))
            _ = try await h.deploy(Fixtures.add(h, client, name: "one", version: "2.0"))
            _ = try await h.deploy(Fixtures.add(h, client, name: "two", version: "1.0"))
            let all = try await client.listServices().filter { $0.name.hasPrefix(h.prefix) }
            try h.expectEqual(Set(all.map(\.reference.description)), Set(["\(h.name("one"))/1.0", "\(h.name("one"))/2.0", "\(h.name("two"))/1.0"]), "list all")
            try h.expectEqual(try await client.listServices(h.name("one")).map(\.version), ["1.0", "2.0"], "list by name")
            let one = try await client.listServices(h.name("one"), version: "2.0")
            try h.expectEqual(one.map(\.reference.description), ["\(h.name("one"))/2.0"], "list by name and version")
            try h.expectEqual(try await client.listServices(h.name("absent")).count, 0, "list of an unknown name")
            try h.expectEqual(try await client.listServices(h.name("one"), version: "7").count, 0, "list of an unknown version")
        },
        ConformanceCheck("delete-semantics", "delete needs a version, removes exactly it, and a second delete is not-found") { h in
            let client = try await h.client()
            _ = try await h.deploy(Fixtures.add(h, client, version: "1.0"))
            _ = try await h.deploy(Fixtures.add(h, client, version: "2.0"))
            try await h.expectError(.missingVersion, "delete without a version") { try await client.deleteService(h.name("add"), version: nil) }
            try await h.expectError(.missingVersion, "delete with an empty version") { try await client.deleteService(h.name("add"), version: "") }
            try await client.deleteService(h.name("add"), version: "1.0")
            try h.expectEqual(try await h.versions(of: h.name("add"), client: client), ["2.0"], "versions after delete")
            try await h.expectError(.notFound, "get of the deleted version") { try await client.getService(h.name("add"), version: "1.0") }
            try await h.expectError(.notFound, "second delete") { try await client.deleteService(h.name("add"), version: "1.0") }
            try await client.deleteService(h.name("add"), version: "2.0")
            try await h.expectError(.notFound, "get latest of a fully deleted service") { try await client.getService(h.name("add")) }
        },
    ]
}
