import Foundation
import MLDeploy

/// The services the suite deploys, in each flavor. Every fixture behaves identically whatever runs
/// it, so the same checks hold for every backend.
enum Fixtures {
    /// The seven parameter types, one input each, echoed to `<name>_out` outputs of the same types.
    static let echoTypes: KeyValuePairs<String, ParameterType> = [
        "i": .integer, "f": .numeric, "s": .character, "b": .logical, "v": .vector, "m": .matrix, "d": .dataFrame,
    ]

    /// Echoes every type: `i, f, s, b, v, m, d` → `i_out, …, d_out`.
    static func echo(_ harness: ConformanceHarness, _ client: DeployClient, version: String = "1.0") -> ServiceBuilder {
        var builder = client.service(harness.name("echo")).version(version).description("echoes every parameter type")
            .inputs(Self.echoTypes)
        for (name, type) in Self.echoTypes {
            builder = builder.output(name + "_out", type)
        }
        switch harness.flavor {
        case .python:
            return builder.code(Self.echoTypes.map { "\($0.key)_out = \($0.key)" }.joined(separator: "\n"))
        default:
            return builder.handler("echo") { call in
                for (name, value) in call.inputs {
                    call.outputs[name + "_out"] = value
                }
            }
        }
    }

    /// `add(a, b) -> sum`, printing a line and writing `result.txt` holding the sum. `rawName` replaces
    /// the unique name (to try invalid names).
    static func add(
        _ harness: ConformanceHarness,
        _ client: DeployClient,
        name: String = "add",
        version: String? = "1.0",
        rawName: String? = nil
    ) -> ServiceBuilder {
        var builder = client.service(rawName ?? harness.name(name)).description("adds two numbers").alias("add")
            .inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric]).artifact("result.txt")
        if let version { builder = builder.version(version) }
        switch harness.flavor {
        case .python:
            return builder.code(
                """
                sum = a + b
                print('adding %s and %s' % (a, b))
                with open('result.txt', 'w') as f:
                    f.write(str(sum))
                """,
                initCode: "import os"
            )
        default:
            return builder.handler("add") { call in
                let sum = try call.numeric("a") + call.numeric("b")
                call.print("adding \(try call.numeric("a")) and \(try call.numeric("b"))")
                call.outputs["sum"] = .numeric(sum)
                call.writeArtifact("result.txt", text: "\(sum)")
            }
        }
    }

    /// Prints `before failure`, then fails with `boom`.
    static func failing(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("failing")).version("1.0").inputs(["x": .integer]).outputs(["y": .integer])
        switch harness.flavor {
        case .python:
            return builder.code("print('before failure')\nraise RuntimeError('boom')")
        default:
            return builder.handler("failing") { call in
                call.print("before failure")
                struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
                throw Boom()
            }
        }
    }

    /// Declares an integer output but produces a string.
    static func badOutput(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("bad-output")).version("1.0").inputs(["x": .integer]).outputs(["n": .integer])
        switch harness.flavor {
        case .python:
            return builder.code("n = 'not a number'")
        default:
            return builder.handler("badOutput") { call in
                call.outputs["n"] = .character("not a number")
            }
        }
    }

    /// `slow(x, delay) -> y = 2x` after sleeping `delay` seconds; writes `x.txt` holding `x`.
    static func slow(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("slow")).version("1.0").inputs(["x": .integer, "delay": .numeric])
            .outputs(["y": .integer]).artifact("x.txt")
        switch harness.flavor {
        case .python:
            return builder.code(
                """
                import time
                time.sleep(delay)
                y = 2 * x
                with open('x.txt', 'w') as f:
                    f.write(str(x))
                """
            )
        default:
            return builder.handler("slow") { call in
                let x = try call.integer("x")
                try await Task.sleep(for: .milliseconds(Int(try call.numeric("delay") * 1000)))
                call.outputs["y"] = .integer(2 * x)
                call.writeArtifact("x.txt", text: "\(x)")
            }
        }
    }

    /// `scribble(x) -> y = x`, writing `kept.txt` (declared) and `scratch.txt` (not declared): only
    /// the declared file may come back.
    static func scribbler(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("scribbler")).version("1.0").inputs(["x": .integer]).outputs(["y": .integer]).artifact("kept.txt")
        switch harness.flavor {
        case .python:
            return builder.code(
                """
                y = x
                with open('kept.txt', 'w') as f:
                    f.write('kept')
                with open('scratch.txt', 'w') as f:
                    f.write('scratch')
                """
            )
        default:
            return builder.handler("scribble") { call in
                call.outputs["y"] = .integer(try call.integer("x"))
                call.writeArtifact("kept.txt", text: "kept")
                call.writeArtifact("scratch.txt", text: "scratch")
            }
        }
    }

    /// New code for the `add` fixture's version `1.0` — `sum = a + b + 1`, still writing
    /// `result.txt` — and nothing else: a redeploy that sets only the code.
    static func addPlusOneCode(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("add")).version("1.0")
        switch harness.flavor {
        case .python:
            return builder.code("sum = a + b + 1\nwith open('result.txt', 'w') as f:\n    f.write(str(sum))")
        default:
            return builder.handler("addPlusOne") { call in
                let sum = try call.numeric("a") + call.numeric("b") + 1
                call.outputs["sum"] = .numeric(sum)
                call.writeArtifact("result.txt", text: "\(sum)")
            }
        }
    }

    /// A service without inputs.
    static func void(_ harness: ConformanceHarness, _ client: DeployClient) -> ServiceBuilder {
        let builder = client.service(harness.name("void")).version("1.0")
        switch harness.flavor {
        case .python: return builder.code("pass")
        default: return builder.handler("void") { _ in }
        }
    }

    /// A sample of every type, for the echo service.
    static func echoInputs() throws -> [String: MLValue] {
        [
            "i": .integer(42),
            "f": .numeric(2.5),
            "s": .character("héllo \"wörld\"\n"),
            "b": .logical(true),
            "v": .vector([1, 2.5, "x", true, nil]),
            "m": .matrix([[1, 2], [3, 4], [5, 6]]),
            "d": .dataFrame(try DataFrame(["z": [1, 2, nil], "a": ["x", "y", "z"], "m": [0.5, true, 3]])),
        ]
    }
}
