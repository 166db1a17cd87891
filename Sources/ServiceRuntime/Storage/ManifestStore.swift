import Foundation
import MLDeploy
import MLDeployCrypto

/// What one write does to one version: store a manifest (with the blobs it adds), or delete one.
package enum ManifestChange: Sendable {
    case put(Manifest, blobs: [String: [UInt8]])
    case delete(Manifest)
}

/// A backend that keeps service versions as ``Manifest``s and runs them in this process — the
/// filesystem store and the PostgreSQL backend. Where the manifests live differs; the deploy
/// rules, the calls and the batches do not, so they are written once here, and a store supplies
/// reading a version, one atomic write, and its runtime.
package protocol ManifestStore: Sendable {
    /// The runtime the store's services run in.
    var localRuntime: LocalRuntime { get }
    /// Where stored Swift handler names are resolved (a deploy registers its handler here).
    var handlerRegistry: HandlerRegistry { get }
    /// The store's batch executions.
    var batchCoordinator: BatchCoordinator { get }
    /// Who authenticated, recorded as `publishedBy`.
    var principalName: String? { get }

    /// What runs `name`/`version`: its metadata, implementation and namespace (objects and models).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/notFound`` when there is no such version.
    func executable(_ name: String, _ version: String) async throws -> (ServiceInfo, ServiceImplementation, [String: ServiceObject])

    /// Applies the change `decide` chooses — from the name's latest deploy sequence (0 for none)
    /// and the version's current manifest — atomically, and returns the manifest written or deleted.
    func writeVersion(
        name: String, version: String, _ decide: @escaping @Sendable (_ latestSequence: Int, _ current: Manifest?) throws -> ManifestChange
    ) async throws -> Manifest
}

extension ManifestStore {
    /// Stores a new version (a UUID version when none is given); `conflict` if it exists.
    package func deployStored(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .deploy)
        try await self.localRuntime.checkCode(definition.code, initCode: definition.initCode, service: definition.name)
        let version = definition.version ?? UUID().uuidString.lowercased()
        let principal = self.principalName
        let objects = try Manifest.stage(definition.objects ?? [:]), models = try Manifest.stage(definition.models ?? [:])
        let manifest = try await self.writeVersion(name: definition.name, version: version) { latest, current in
            if current != nil { throw MLDeployError.conflict(name: definition.name, version: version) }
            let manifest = Manifest.deployed(definition, version: version, sequence: latest + 1, publishedBy: principal, objects: objects.stored, models: models.stored)
            return .put(manifest, blobs: objects.blobs.merging(models.blobs) { first, _ in first })
        }
        if let handler = definition.handler { self.handlerRegistry.register(handler) }
        try await self.prepareWorkers(manifest.info)
        return manifest.info
    }

    /// Changes the fields the definition sets, atomically; `notFound` if the version is absent.
    package func redeployStored(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .redeploy)
        try await self.localRuntime.checkCode(definition.code, initCode: definition.initCode, service: definition.name)
        let version = definition.version!
        let objects = try definition.objects.map { try Manifest.stage($0) }, models = try definition.models.map { try Manifest.stage($0) }
        let manifest = try await self.writeVersion(name: definition.name, version: version) { _, current in
            guard var manifest = current else { throw MLDeployError.serviceNotFound(name: definition.name, version: version) }
            try manifest.redeploy(definition, objects: objects?.stored, models: models?.stored)
            var blobs: [String: [UInt8]] = [:]
            if let objects { blobs.merge(objects.blobs) { first, _ in first } }
            if let models { blobs.merge(models.blobs) { first, _ in first } }
            return .put(manifest, blobs: blobs)
        }
        if let handler = definition.handler { self.handlerRegistry.register(handler) }
        await self.localRuntime.evict(manifest.info.reference)
        try await self.prepareWorkers(manifest.info)
        return manifest.info
    }

    /// Stores a realtime version with the fixed `inputData`/`outputData` schema.
    package func deployStoredRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .deploy)
        try RealtimeDefinition.checkScorable(definition.serializedModel)
        let version = definition.version ?? UUID().uuidString.lowercased()
        let principal = self.principalName
        let model = Array(definition.serializedModel!)
        let hash = SHA256.hex(model)
        return try await self.writeVersion(name: definition.name, version: version) { latest, current in
            if current != nil { throw MLDeployError.conflict(name: definition.name, version: version) }
            let manifest = Manifest.deployedRealtime(definition, version: version, sequence: latest + 1, publishedBy: principal, model: .init(hash: hash, size: model.count))
            return .put(manifest, blobs: [hash: model])
        }.info
    }

    /// Changes a realtime version's description, alias or model.
    package func redeployStoredRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .redeploy)
        try RealtimeDefinition.checkScorable(definition.serializedModel)
        let version = definition.version!
        let model = definition.serializedModel.map { Array($0) }
        let manifest = try await self.writeVersion(name: definition.name, version: version) { _, current in
            guard var manifest = current else { throw MLDeployError.serviceNotFound(name: definition.name, version: version) }
            var blobs: [String: [UInt8]] = [:]
            var reference: Manifest.BlobReference?
            if let model {
                let hash = SHA256.hex(model)
                reference = .init(hash: hash, size: model.count)
                blobs[hash] = model
            }
            try manifest.redeployRealtime(definition, model: reference)
            return .put(manifest, blobs: blobs)
        }
        await self.localRuntime.evict(manifest.info.reference)
        return manifest.info
    }

    /// Removes one version (the store collects blobs nothing references any more), cancels its
    /// batches and stops its workers.
    package func deleteStored(_ name: String, version: String) async throws {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        _ = try await self.writeVersion(name: name, version: version) { _, current in
            guard let manifest = current else { throw MLDeployError.serviceNotFound(name: name, version: version) }
            return .delete(manifest)
        }
        let reference = ServiceReference(name: name, version: version)
        await self.batchCoordinator.cancelAll(for: reference)
        await self.localRuntime.evict(reference)
    }

    /// Runs one call through the local runtime.
    package func consumeStored(_ request: ConsumeRequest) async throws -> ServiceResponse {
        let (info, implementation, namespace) = try await self.executable(request.service.name, request.service.version)
        return try await self.localRuntime.run(info, implementation: implementation, namespace: namespace, inputs: request.inputs)
    }

    /// Starts running the records in the background (in this process) and returns the execution id.
    package func startStoredBatch(_ request: BatchRequest) async throws -> String {
        let (info, implementation, namespace) = try await self.executable(request.service.name, request.service.version)
        let bound = try request.records.map { try info.bindInputs($0) }
        let runtime = self.localRuntime
        return await self.batchCoordinator.start(service: info, records: bound, parallelCount: request.parallelCount) { _, inputs in
            try await runtime.run(info, implementation: implementation, namespace: namespace, inputs: inputs)
        }
    }

    /// Starts a Python version's initial workers, so its first call does not pay their start.
    private func prepareWorkers(_ info: ServiceInfo) async throws {
        guard info.runtime == .python else { return }
        let (info, implementation, namespace) = try await self.executable(info.name, info.version)
        try await self.localRuntime.prepare(info, implementation: implementation, namespace: namespace)
    }
}
