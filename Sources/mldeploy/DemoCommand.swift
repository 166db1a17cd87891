import ArgumentParser
import Foundation
import MLDeploy
import MLDeployPlugin

/// `mldeploy demo`: the whole life of a service on a target, narrated — deploy, consume, batch,
/// redeploy, list, delete — on the configured target, or the embedded `memory:` one.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Deploy, consume, batch, redeploy, list and delete a sample service on a target.",
        discussion: """
            The sample is the transmission model of the ML Server tutorials: a Swift handler on targets \
            that run Swift handlers in this process (memory:, file:), the same model as Python code on \
            the others (servers). It runs on the configured target (memory: when none is), under a \
            version of its own that it deletes at the end. With --format json it prints one JSON \
            object of what each step returned.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let narration = Narration(format: self.global.format)
            try await withConfiguredClient(self.global) { client in
                try await Self.tour(client, narration)
            }
            try narration.finish()
        }
    }

    /// Logistic regression of `am` (manual transmission) on horsepower and weight, fitted on mtcars.
    static let transmission = ServiceHandler("manualTransmission") { call in
        let hp = try call.numeric("hp"), wt = try call.numeric("wt")
        let probability = 1 / (1 + exp(-(18.86630 + 0.03626 * hp - 8.08348 * wt)))
        call.print("scoring hp=\(hp) wt=\(wt)")
        call.outputs["answer"] = .dataFrame(try DataFrame(["am_Pred": [.numeric(probability)]]))
        call.writeArtifact("answer.csv", text: "am_Pred\n\(probability)\n")
    }

    /// The same model as Python code, for targets that run services elsewhere.
    static let transmissionPython = (
        initCode: "import math\nimport pandas",
        code: """
            p = 1 / (1 + math.exp(-(18.86630 + 0.03626 * hp - 8.08348 * wt)))
            print("scoring hp=%s wt=%s" % (hp, wt))
            answer = pandas.DataFrame({"am_Pred": [p]})
            with open("answer.csv", "w") as f:
                f.write("am_Pred\\n%s\\n" % p)
            """
    )

    static func tour(_ client: DeployClient, _ narration: Narration) async throws {
        let capabilities = client.capabilities
        var builder = client.service("TxService").version("demo-" + UUID().uuidString.prefix(8).lowercased())
            .description("Probability that a car has a manual transmission")
            .inputs(["hp": .numeric, "wt": .numeric])
            .outputs(["answer": .dataFrame])
            .artifact("answer.csv")
        let runtime: String
        // This process's Swift handler runs only in this process: a plugin runs the handlers it links.
        if capabilities.contains(.swiftHandlers), !(client.backend is PluginBackend) {
            builder = builder.handler(Self.transmission)
            runtime = "a Swift handler"
        } else if capabilities.contains(.pythonServices) {
            builder = builder.code(Self.transmissionPython.code, initCode: Self.transmissionPython.initCode)
            runtime = "Python code"
        } else {
            throw MLDeployError(code: .unsupported, message: "The demo needs a target that runs Swift handlers or Python services; \(client.configuration.backendName) runs neither.")
        }
        narration.say("Target: \(client.configuration)  capabilities: \(capabilities)", ["target": .string("\(client.configuration)"), "runtime": .string(runtime)])

        let service = try await builder.deploy()
        narration.say("Deployed \(service) (\(runtime))", ["deployed": ["name": .string(service.name), "version": .string(service.version)]])
        do {
            try await Self.exercise(service, client, narration)
        } catch {
            try? await client.deleteService(service.name, version: service.version)
            throw error
        }
    }

    private static func exercise(_ service: Service, _ client: DeployClient, _ narration: Narration) async throws {
        func probability(_ response: ServiceResponse) -> Double {
            let p = response.output("answer")?.dataFrameValue?["am_Pred"]?.first?.doubleValue ?? .nan
            return (p * 1000).rounded() / 1000
        }
        let response = try await service.consume(["hp": 120, "wt": 2.8])
        guard response.success else {
            throw MLDeployError(code: .backendFailure, message: "The sample service failed on \(client.configuration): \(response.errorMessage ?? "no message")")
        }
        let artifact = try response.artifact("answer.csv", encoding: .utf8)?.split(separator: "\n").joined(separator: " | ") ?? "-"
        narration.say(
            "Consumed: P(manual | hp=120, wt=2.8) = \(probability(response))\n  console: \(response.consoleOutput.trimmingCharacters(in: .newlines))\n  artifact answer.csv: \(artifact)",
            ["consumed": ["probability": .double(probability(response)), "consoleOutput": .string(response.consoleOutput), "artifacts": .array(response.artifactNames.map(JSONValue.string))]]
        )

        if client.capabilities.contains(.batch) {
            let cars: [[String: MLValue]] = [[120, 2.8], [110, 2.62], [335, 3.57], [52, 1.615]].map { ["hp": $0[0], "wt": $0[1]] }
            let batch = try await service.batch(cars, parallelCount: 2)
            let interval: Duration = client.configuration.backendName.lowercased() == "memory" ? .milliseconds(20) : .milliseconds(200)
            for try await status in batch.progress(pollingInterval: interval) {
                narration.say("  batch \(status.state): \(status.completedItemCount)/\(status.totalItemCount)", nil)
            }
            let results = try await batch.results()
            for item in results.results { narration.say("  record \(item.index): \(probability(item.response))", nil) }
            narration.say(nil, ["batch": .array(results.results.map { .double(probability($0.response)) })])
        }

        _ = try await client.service(service.name).version(service.version).description("Patched description").redeploy()
        let listed = try await client.listServices(service.name)
        for info in listed { narration.say("Listed \(info.name) \(info.version) [\(info.runtime)] \(info.description ?? "")", nil) }
        narration.say(nil, ["listed": .array(listed.map { ["version": .string($0.version), "description": $0.description.map(JSONValue.string) ?? .null] })])
        try await client.deleteService(service.name, version: service.version)
        let left = try await client.listServices(service.name).count
        narration.say("Deleted \(service.name) \(service.version); \(left) version(s) of it left.", ["deleted": .bool(true)])
    }

    /// What the demo says: lines as it goes in text mode, one JSON object at the end in JSON mode.
    final class Narration: @unchecked Sendable {
        let format: OutputFormat
        private var object = JSONObject()

        init(format: OutputFormat) {
            self.format = format
        }

        /// Prints `line` (text mode) or records `fields` (JSON mode); either may be `nil`.
        func say(_ line: String?, _ fields: JSONObject?) {
            switch self.format {
            case .text: if let line { print(line) }
            case .json: for member in fields ?? [:] { self.object[member.key] = member.value }
            }
        }

        /// Prints the JSON object, in JSON mode.
        func finish() throws {
            if self.format == .json { try Output.json(.object(self.object)) }
        }
    }
}
