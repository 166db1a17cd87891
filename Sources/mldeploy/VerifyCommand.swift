import ArgumentParser
import FileStoreBackend
import Foundation
import MLDeploy
import MLDeployConfiguration

/// `mldeploy verify`: checks a filesystem store without changing it.
///
/// Exit status 0 when the store is sound, 2 when problems were found (each printed as
/// `kind path: detail`), 1 when the store could not be read at all.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a filesystem store: unreadable manifests, missing or corrupt blobs, orphans, interrupted writes.",
        discussion: """
            Reads every manifest and every blob (checking its SHA-256), so it takes time proportional \
            to the store's size. It changes nothing: opening the store for verification does not run \
            crash recovery. Exit codes: 0 sound; 2 problems found; 1 the store could not be checked.
            """
    )

    @Argument(help: "The store's root directory (instead of a file: target).")
    var root: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if self.global.target != nil, self.root != nil {
            throw ValidationError("Give the store either as --target file:PATH or as a ROOT argument, not both.")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let target: DeployTarget
            if let root = self.root {
                try self.global.refuseUnused(["--config", "--profile"], by: "verify ROOT", why: "the ROOT argument names the store; drop ROOT to verify the configured target instead.")
                target = .uri("file:" + root)
            } else {
                let configuration = try await self.global.configuration()
                guard configuration.target != nil else {
                    throw ValidationError("Which store? Pass its root directory, or --target file:PATH (or configure a file: target).")
                }
                target = configuration.deployTarget()
            }
            let report = try await Self.verify(target)
            switch self.global.format {
            case .text:
                for problem in report.problems { print(problem) }
                print("\(report.versions) version(s), \(report.blobs) blob(s): \(report.isClean ? "no problems" : "\(report.problems.count) problem(s)")")
            case .json:
                print(try Self.json(report).serialized())
            }
            if !report.isClean { throw ExitCode(2) }
        }
    }

    /// Opens the target as found (neither creating it nor recovering an interrupted write, which
    /// verification reports) and verifies it; a target that is not a file store is an error rather
    /// than an empty report.
    static func verify(_ target: DeployTarget) async throws -> StoreVerification {
        // Another backend would refuse the file store's options before saying what is wrong.
        if let registration = try target.registration(), registration.name != "filesystem" {
            throw MLDeployError(code: .unsupported, message: "verify checks filesystem stores; \(registration.name) is not one (use --target file:PATH).")
        }
        return try await withDeployClient(target: target.addingOptions(["create": "false", "recover": "false"])) { client in
            guard let store = client.backend as? FileStore else {
                throw MLDeployError(
                    code: .unsupported,
                    message: "verify checks filesystem stores; \(client.configuration.backendName) is not one (use --target file:PATH)."
                )
            }
            return try await store.verify()
        }
    }

    /// The report as JSON: `{"clean", "versions", "blobs", "problems": [{"kind", "path", "detail"}]}`.
    static func json(_ report: StoreVerification) -> JSONValue {
        [
            "clean": .bool(report.isClean), "versions": .integer(report.versions), "blobs": .integer(report.blobs),
            "problems": .array(report.problems.map { ["kind": .string($0.kind.rawValue), "path": .string($0.path), "detail": .string($0.detail)] }),
        ]
    }
}
