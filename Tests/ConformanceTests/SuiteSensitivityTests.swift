import Foundation
import MLDeploy
import MLDeployConformance
import ServiceRuntime
import Testing

/// The suite must catch real defects: each broken backend below violates one rule, and the check
/// for that rule must fail against it (while the honest backend passes it).
@Suite("Conformance suite sensitivity")
struct SuiteSensitivityTests {
    static let cases: [(check: String, mutant: @Sendable () -> any Backend)] = [
        ("duplicate-deploy-conflicts", { OverwritingBackend() }),
        ("latest-is-most-recent", { OldestIsLatestBackend() }),
        ("redeploy-changes-only-given", { ForgetfulRedeployBackend() }),
        ("consume-every-type", { ColumnSortingBackend() }),
        ("batch-cancel", { IgnoresCancelBackend() }),
        ("batch-order-and-results", { ShiftedBatchBackend() }),
        ("delete-semantics", { DeletesEverythingBackend() }),
        ("list-forms", { UnorderedListBackend() }),
        ("only-declared-artifacts", { LeakyArtifactsBackend() }),
        ("redeploy-leaves-unset-fields", { DescriptionClearingRedeployBackend() }),
    ]

    @Test("each check fails against a backend that breaks its rule", arguments: 0..<cases.count)
    func detects(_ index: Int) async throws {
        let (name, mutant) = Self.cases[index]
        let check = try #require(BackendConformance.checks.first { $0.name == name })
        try await check.run(ConformanceConfiguration { TinyBatchBackend() })
        await #expect(throws: ConformanceFailure.self, "\(name) must fail for a broken backend") {
            try await check.run(ConformanceConfiguration(makeBackend: mutant))
        }
    }

    @Test("BackendConformance.run names the check of every failure, including unexpected errors")
    func runNamesChecks() async throws {
        let honest = await BackendConformance.run(ConformanceConfiguration { TinyBatchBackend() })
        #expect(honest.isEmpty, "\(honest)")
        let failures = await BackendConformance.run(ConformanceConfiguration { ThrowingListBackend() })
        let names = Set(BackendConformance.checks.map(\.name))
        #expect(!failures.isEmpty)
        for failure in failures {
            #expect(names.contains(failure.check), "\(failure)")
        }
        #expect(failures.contains { $0.check == "list-forms" && $0.message.contains("unexpected error") && "\($0)".hasPrefix("list-forms: ") }, "\(failures)")
    }

    @Test("the client hands on only declared artifacts, whatever a backend returns")
    func clientFiltersArtifacts() async throws {
        try await withDeployClient(target: .backend(LeakyArtifactsBackend())) { client in
            let service = try await client.service("scribbler").version("1").inputs(["x": .integer]).outputs(["y": .integer]).artifact("kept.txt")
                .handler("scribbler") { call in
                    call.outputs["y"] = call.inputs["x"]
                    call.writeArtifact("kept.txt", text: "kept")
                }.deploy()
            let response = try await service.consume(["x": 1])
            #expect(response.artifactNames == ["kept.txt"])
            let results = try await service.batch([["x": 1]]).wait(pollingInterval: .milliseconds(10))
            #expect(results.results.map(\.response.artifactNames) == [["kept.txt"]])
        }
    }
}

/// A backend whose every listing fails with an error that is not a conformance failure.
final class ThrowingListBackend: TinyBatchBackend, @unchecked Sendable {
    struct Broken: Error {}
    override func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] { throw Broken() }
}

// MARK: - An honest baseline with batch support, and mutants of it

/// TinyBackend plus batch support from `ServiceRuntime`'s coordinator.
class TinyBatchBackend: Backend, @unchecked Sendable {
    let inner = TinyBackend()
    let batches = BatchCoordinator()
    var capabilities: BackendCapabilities { [.swiftHandlers, .batch, .batchArtifacts] }

    func getService(_ name: String, version: String?) async throws -> ServiceInfo { try await self.inner.getService(name, version: version) }
    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] { try await self.inner.listServices(query) }
    func deleteService(_ name: String, version: String) async throws { try await self.inner.deleteService(name, version: version) }
    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { try await self.inner.deployService(definition) }
    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo { try await self.inner.redeployService(definition) }
    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse { try await self.inner.consume(request) }
    func startBatch(_ request: BatchRequest) async throws -> String {
        let inner = self.inner
        return await self.batches.start(service: request.service, records: request.records, parallelCount: request.parallelCount) { _, inputs in
            try await inner.consume(ConsumeRequest(service: request.service, inputs: inputs))
        }
    }
    func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        try await self.batches.status(batch, includeResults: includeResults)
    }
    func listBatchExecutions(_ service: ServiceReference) async throws -> [String] { await self.batches.executionIDs(for: service) }
    func cancelBatch(_ batch: BatchReference) async throws { try await self.batches.cancel(batch) }
    func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] { try await self.batches.artifactNames(batch, index: index) }
    func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        try await self.batches.artifact(batch, index: index, fileName: fileName)
    }
}

/// Deploying an existing version silently replaces it.
final class OverwritingBackend: TinyBatchBackend, @unchecked Sendable {
    override func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        if let version = definition.version { try? await self.inner.deleteService(definition.name, version: version) }
        return try await self.inner.deployService(definition)
    }
}

/// "Latest" is the first version deployed.
final class OldestIsLatestBackend: TinyBatchBackend, @unchecked Sendable {
    override func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        if version == nil, let first = try await self.inner.listServices(.named(name)).first { return first }
        return try await self.inner.getService(name, version: version)
    }
}

/// A redeploy that does not set inputs clears them.
final class ForgetfulRedeployBackend: TinyBatchBackend, @unchecked Sendable {
    override func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        var definition = definition
        definition.inputs = definition.inputs ?? []
        return try await self.inner.redeployService(definition)
    }
}

/// Data frame outputs come back with their columns sorted by name.
final class ColumnSortingBackend: TinyBatchBackend, @unchecked Sendable {
    override func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        var response = try await self.inner.consume(request)
        for (name, value) in response.outputs {
            if case .dataFrame(let frame) = value {
                response.outputs[name] = .dataFrame(try DataFrame(columns: frame.columns.sorted { $0.name < $1.name }))
            }
        }
        return response
    }
}

/// Cancelling a batch does nothing.
final class IgnoresCancelBackend: TinyBatchBackend, @unchecked Sendable {
    override func cancelBatch(_ batch: BatchReference) async throws {}
}

/// Batch results are reported one index off.
final class ShiftedBatchBackend: TinyBatchBackend, @unchecked Sendable {
    override func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        var status = try await self.batches.status(batch, includeResults: includeResults)
        status.results = status.results.map { BatchItem(index: ($0.index + 1) % status.totalItemCount, response: $0.response) }.sorted { $0.index < $1.index }
        return status
    }
}

/// Deleting one version deletes them all.
final class DeletesEverythingBackend: TinyBatchBackend, @unchecked Sendable {
    override func deleteService(_ name: String, version: String) async throws {
        for info in try await self.inner.listServices(.named(name)) {
            try await self.inner.deleteService(name, version: info.version)
        }
    }
}

/// Responses carry a file the service does not declare.
final class LeakyArtifactsBackend: TinyBatchBackend, @unchecked Sendable {
    override func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        var response = try await self.inner.consume(request)
        response.rawArtifacts["secret.txt"] = Data("not declared".utf8).base64EncodedString()
        return response
    }

    override func startBatch(_ request: BatchRequest) async throws -> String {
        let leaky = self
        return await self.batches.start(service: request.service, records: request.records, parallelCount: request.parallelCount) { _, inputs in
            try await leaky.consume(ConsumeRequest(service: request.service, inputs: inputs))
        }
    }
}

/// A redeploy that does not set the description clears it.
final class DescriptionClearingRedeployBackend: TinyBatchBackend, @unchecked Sendable {
    override func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        var definition = definition
        definition.description = definition.description ?? ""
        return try await self.inner.redeployService(definition)
    }
}

/// Versions of a name are listed newest first.
final class UnorderedListBackend: TinyBatchBackend, @unchecked Sendable {
    override func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        try await self.inner.listServices(query).reversed()
    }
}
