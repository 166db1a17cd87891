import ArgumentParser
import Foundation
import MLDeploy
import MLDeployConfiguration
import MLDeployConformance

/// `mldeploy conformance`: runs the conformance suite every backend must pass against any target —
/// built in or a plugin — printing each check.
struct ConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run the backend conformance suite against a target (built-in or plugin).",
        discussion: """
            Each check creates its own client, deploys services under unique names and deletes them \
            afterwards, so an existing store is left as it was. Exits 1 if any check fails.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The kind of service code to deploy: python (the default) or swift (the suite's Swift handlers, which run only in this process: in-process targets such as memory: and file:).")
    var flavor: Flavor = .python

    @Option(name: .long, help: "Run only the checks whose names contain this text (repeatable).")
    var check: [String] = []

    @Flag(name: .long, help: "List the checks and exit.")
    var list = false

    enum Flavor: String, ExpressibleByArgument, CaseIterable {
        case python
        case swift
    }

    func run() async throws {
        var failures = 0
        try await reportingErrors {
            let checks = BackendConformance.checks.filter { check in self.check.isEmpty || self.check.contains { check.name.contains($0) } }
            if self.list {
                for check in checks { print("\(check.name)  \(check.summary)") }
                return
            }
            guard !checks.isEmpty else {
                throw MLDeployError.invalidArgument("No conformance check matches \(self.check.map { "'\($0)'" }.joined(separator: ", ")); mldeploy conformance --list names them.")
            }
            let configuration = try await self.global.configuration()
            guard configuration.target != nil else {
                throw MLDeployError(code: .invalidTarget, message: "mldeploy conformance needs a target: --target URI (or MLDEPLOY_TARGET, or target: in the config file).")
            }
            let target = configuration.deployTarget()
            _ = try target.registration()  // an unknown target fails before any check runs
            let suite = ConformanceConfiguration(
                credentials: configuration.auth,
                flavor: self.flavor == .python ? .python : .swiftHandlers,
                makeBackend: { try target.makeBackend() }
            )
            var results: [JSONValue] = []
            for check in checks {
                let started = ContinuousClock.now
                var message: String?
                do {
                    try await check.run(suite)
                } catch let failure as ConformanceFailure {
                    message = "\(failure.message) (\(failure.location))"
                } catch {
                    message = "unexpected error: \(error)"
                }
                let elapsed = ContinuousClock.now - started
                if message != nil { failures += 1 }
                switch self.global.format {
                case .text:
                    let time = elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))
                    print(message == nil ? "ok    \(check.name)  (\(time))" : "FAIL  \(check.name): \(message!)")
                case .json:
                    results.append(["check": .string(check.name), "passed": .bool(message == nil), "message": message.map(JSONValue.string) ?? .null])
                }
            }
            switch self.global.format {
            case .text:
                print("\(checks.count - failures) of \(checks.count) checks passed against \(configuration.target!)")
            case .json:
                try Output.json(["target": .string(configuration.target!), "checks": .array(results), "failures": .integer(failures)])
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
