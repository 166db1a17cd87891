import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration

/// `mldeploy demo`: the whole life of a service on a target, narrated — the main job of a fresh
/// checkout, run on the embedded `memory:` target.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Deploy, consume, batch, list and delete a sample service on a target.",
        discussion: "The sample is the transmission model of the ML Server tutorials, written as a Swift handler."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            // The configured target, or the embedded in-memory one.
            let configuration = try await self.global.configuration()
            try await withDeployClient(target: configuration.deployTarget(default: "memory:").addingOptions(configuration.pythonOptions), auth: configuration.auth) { client in
                try await Self.tour(client)
            }
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

    static func tour(_ client: DeployClient) async throws {
        print("Target: \(client.configuration)  capabilities: \(client.capabilities)")

        let service = try await client.service("TxService").version("1.0")
            .description("Probability that a car has a manual transmission")
            .handler(Self.transmission)
            .inputs(["hp": .numeric, "wt": .numeric])
            .outputs(["answer": .dataFrame])
            .artifact("answer.csv")
            .deploy()
        print("Deployed \(service)")

        let response = try await service.manualTransmission(hp: 120, wt: 2.8)
        let probability = response.output("answer")?.dataFrameValue?["am_Pred"]?.first?.doubleValue ?? .nan
        print("Consumed: P(manual | hp=120, wt=2.8) = \((probability * 1000).rounded() / 1000)")
        print("  console: \(response.consoleOutput.trimmingCharacters(in: .newlines))")
        print("  artifact answer.csv: \(try response.artifact("answer.csv", encoding: .utf8)?.split(separator: "\n").joined(separator: " | ") ?? "-")")

        let cars: [[String: MLValue]] = [[120, 2.8], [110, 2.62], [335, 3.57], [52, 1.615]].map { ["hp": $0[0], "wt": $0[1]] }
        let batch = try await service.batch(cars, parallelCount: 2)
        for try await status in batch.progress(pollingInterval: .milliseconds(20)) {
            print("  batch \(status.state): \(status.completedItemCount)/\(status.totalItemCount)")
        }
        let results = try await batch.results()
        for item in results.results {
            let p = item.response.output("answer")?.dataFrameValue?["am_Pred"]?.first?.doubleValue ?? .nan
            print("  record \(item.index): \((p * 1000).rounded() / 1000)")
        }

        _ = try await client.service("TxService").version("1.0").description("Patched description").redeploy()
        for info in try await client.listServices() {
            print("Listed \(info.name) \(info.version) [\(info.runtime)] \(info.description ?? "")")
        }
        try await client.deleteService("TxService", version: "1.0")
        print("Deleted TxService 1.0; \(try await client.listServices().count) service(s) left.")
    }
}
