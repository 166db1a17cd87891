import MLDeploy

extension BackendConformance {
    /// Names that must be refused everywhere: empty, traversal, separators, control characters, too long.
    static let badNames = [
        "", ".", "..", "../etc", "a/b", "a\\b", "/abs", "a..b", ".hidden", "nul\u{0}byte", "tab\there", "new\nline", "sp ace",
        "ünicode", String(repeating: "x", count: 129),
    ]

    static let badInputChecks: [ConformanceCheck] = [
        ConformanceCheck("invalid-names", "invalid service names and versions are refused with typed errors and nothing is stored") { h in
            let client = try await h.client()
            let before = try await client.listServices()
            for bad in badNames {
                try await h.expectError(.invalidName, "deploy named \(bad.debugDescription)") { try await Fixtures.add(h, client, rawName: bad).deploy() }
                try await h.expectError(.invalidName, "get named \(bad.debugDescription)") { try await client.getService(bad) }
                try await h.expectError(.invalidName, "delete named \(bad.debugDescription)") { try await client.deleteService(bad, version: "1.0") }
                try await h.expectError(.invalidName, "list named \(bad.debugDescription)") { try await client.listServices(bad) }
                try await h.expectError(.invalidVersion, "deploy with version \(bad.debugDescription)") {
                    try await Fixtures.add(h, client, version: nil).version(bad).deploy()
                }
                try await h.expectError(.invalidVersion, "get with version \(bad.debugDescription)") { try await client.getService(h.name("add"), version: bad) }
            }
            try h.expectEqual(try await client.listServices(), before, "services after refused deploys")
        },
        ConformanceCheck("invalid-definitions", "malformed definitions are refused with typed errors before anything is stored") { h in
            let client = try await h.client()
            let name = h.name("bad")
            try await h.expectError(.unknownParameterType, "an unknown type spelling") {
                try await Fixtures.add(h, client, rawName: name).inputs(spelled: ["c": "numpy.ndarray"]).deploy()
            }
            try await h.expectError(.unknownParameterType, "an unknown type in an options dictionary") {
                try await client.deployService(name, options: ["version": "1.0", "code_str": "y = x", "inputs": ["x": "tensor"]])
            }
            try await h.expectError(.invalidArgument, "an unknown option") {
                try await client.deployService(name, options: ["version": "1.0", "code_str": "y = x", "colour": "red"])
            }
            try await h.expectError(.invalidArgument, "no code and no handler") {
                try await client.service(name).version("1.0").inputs(["x": .integer]).deploy()
            }
            try await h.expectError(.invalidArgument, "both code and a handler") {
                try await client.service(name).version("1.0").code("y = x").handler("h") { _ in }.deploy()
            }
            try await h.expectError(.invalidArgument, "an input name that is not an identifier") {
                try await Fixtures.add(h, client, rawName: name).input("not-an-identifier", .numeric).deploy()
            }
            try await h.expectError(.invalidArgument, "a repeated input") {
                try await client.deployService(
                    ServiceDefinition(name: name, version: "1.0", code: "y = x", inputs: [.init(name: "x", type: .integer), .init(name: "x", type: .numeric)])
                )
            }
            try await h.expectError(.invalidArgument, "an artifact path") { try await Fixtures.add(h, client, rawName: name).artifact("../escape.txt").deploy() }
            try await h.expectError(.invalidArgument, "an alias that is not an identifier") { try await Fixtures.add(h, client, rawName: name).alias("two words").deploy() }
            try h.expectEqual(try await client.listServices(name), [], "versions after refused deploys")
        },
        ConformanceCheck("bad-inputs", "calls with missing, extra, mistyped or non-finite inputs are refused with typed errors") { h in
            let client = try await h.client()
            let service = try await h.deploy(Fixtures.echo(h, client))
            var inputs = try Fixtures.echoInputs()
            try await h.expectError(.inputMismatch, "a missing input") {
                var missing = inputs
                missing["i"] = nil
                return try await service.consume(missing)
            }
            try await h.expectError(.inputMismatch, "an extra input") {
                var extra = inputs
                extra["zzz"] = 1
                return try await service.consume(extra)
            }
            for (name, wrong) in [("i", MLValue.character("1")), ("i", .numeric(2.5)), ("s", .integer(1)), ("b", .integer(1)), ("v", .matrix([[1]])), ("d", .vector([1]))] {
                let error = try await h.expectError(.inputMismatch, "\(name) given \(wrong)") {
                    var mistyped = inputs
                    mistyped[name] = wrong
                    return try await service.consume(mistyped)
                }
                try h.expect(error.message.contains("'\(name)'"), "the error names the input: \(error.message)")
            }
            for (name, bad) in [("f", MLValue.numeric(.nan)), ("f", .numeric(.infinity)), ("v", .vector([.numeric(-.infinity)])), ("m", .matrix([[1, 2], [3]]))] {
                try await h.expectError(.invalidValue, "\(name) given \(bad)") {
                    var invalid = inputs
                    invalid[name] = bad
                    return try await service.consume(invalid)
                }
            }
            try await h.expectError(.inputMismatch, "too many positional arguments") { try await service(1, 2, 3, 4, 5, 6, 7, 8) }
            // Lossless conversions are accepted: an integer where numeric is declared, a whole numeric where integer is.
            inputs["f"] = .integer(3)
            inputs["i"] = .numeric(4)
            let response = try await service.consume(inputs)
            try h.expectEqual(response.output("f_out"), .numeric(3), "integer passed as numeric")
            try h.expectEqual(response.output("i_out"), .integer(4), "whole numeric passed as integer")
        },
    ]
}
