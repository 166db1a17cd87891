import Foundation
import MLDeploy
import Synchronization

/// A minimal backend for testing the client's own logic: it records the lifecycle calls and can be
/// told to fail a stage. Services are kept in a dictionary; only Swift handlers run.
final class ProbeBackend: ConfigurableBackend {
    struct Failures: Sendable {
        var initialize: MLDeployError?
        var authenticate: MLDeployError?
    }

    let capabilities: BackendCapabilities
    let failures: Failures
    let configuration: BackendConfiguration?
    private let log = Mutex<[String]>([])
    private let services = Mutex<[ServiceReference: (ServiceInfo, ServiceHandler?)]>([:])

    init(capabilities: BackendCapabilities = [.swiftHandlers], failures: Failures = .init()) {
        self.capabilities = capabilities
        self.failures = failures
        self.configuration = nil
    }

    init(configuration: BackendConfiguration) throws {
        if configuration.options["fail"] == "yes" { throw MLDeployError.invalidArgument("ProbeBackend refused its options") }
        self.capabilities = [.swiftHandlers]
        self.failures = .init()
        self.configuration = configuration
    }

    var calls: [String] { self.log.withLock { $0 } }
    private func note(_ call: String) { self.log.withLock { $0.append(call) } }

    func initialize(context: BackendContext) async throws {
        self.note("initialize")
        if let error = self.failures.initialize { throw error }
    }

    func authenticate(_ credentials: AuthContext) async throws {
        self.note("authenticate \(credentials)")
        if let error = self.failures.authenticate { throw error }
    }

    func shutdown() async throws { self.note("shutdown") }

    func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        self.note("get \(name) \(version ?? "latest")")
        let matches = self.services.withLock { $0.values.map(\.0).filter { $0.name == name } }
        guard let found = version.map({ v in matches.first { $0.version == v } }) ?? matches.max(by: { $0.version < $1.version }) else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        return found
    }

    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        self.note("list \(query)")
        return self.services.withLock { Array($0.values.map(\.0)) }
    }

    func deleteService(_ name: String, version: String) async throws {
        self.note("delete \(name) \(version)")
    }

    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        self.note("deploy \(definition.name) \(definition.version ?? "nil")")
        let info = ServiceInfo(
            name: definition.name, version: definition.version ?? "generated", description: definition.description,
            operationID: definition.effectiveAlias, inputs: definition.inputs ?? [], outputs: definition.outputs ?? [],
            runtime: definition.runtime ?? .swift, artifacts: definition.artifacts ?? []
        )
        self.services.withLock { $0[info.reference] = (info, definition.handler) }
        return info
    }

    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        self.note("redeploy \(definition.name) \(definition.version ?? "nil")")
        return try await self.getService(definition.name, version: definition.version)
    }

    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        self.note("consume \(request.service.reference) \(request.inputs.keys.sorted())")
        guard let handler = self.services.withLock({ $0[request.service.reference]?.1 }) else {
            throw MLDeployError.serviceNotFound(name: request.service.name, version: request.service.version)
        }
        var call = ServiceCall(service: request.service, inputs: request.inputs)
        try await handler.run(&call)
        return try ServiceResponse(service: request.service, outputs: try request.service.checkOutputs(call.outputs))
    }
}
