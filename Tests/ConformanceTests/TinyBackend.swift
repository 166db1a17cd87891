import Foundation
import MLDeploy

/// A third-party backend in under a hundred lines, written only against the public `MLDeploy` API:
/// an actor holding services, running Swift handlers directly. It declares no batch, realtime or
/// swagger support, so the suite checks those are refused cleanly.
final class TinyBackend: Backend {
    let capabilities: BackendCapabilities = [.swiftHandlers]
    private let store = Store()

    private actor Store {
        var versions: [String: [(info: ServiceInfo, handler: ServiceHandler)]] = [:]

        func find(_ name: String, _ version: String?) throws -> (info: ServiceInfo, handler: ServiceHandler) {
            guard let all = versions[name], let found = version.map({ v in all.first { $0.info.version == v } }) ?? all.last else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            return found
        }

        func insert(_ info: ServiceInfo, _ handler: ServiceHandler) throws {
            if self.versions[info.name]?.contains(where: { $0.info.version == info.version }) == true {
                throw MLDeployError.conflict(name: info.name, version: info.version)
            }
            self.versions[info.name, default: []].append((info, handler))
        }

        func replace(_ info: ServiceInfo, _ handler: ServiceHandler) {
            let index = self.versions[info.name]!.firstIndex { $0.info.version == info.version }!
            self.versions[info.name]![index] = (info, handler)
        }

        func delete(_ name: String, _ version: String) throws {
            guard let index = self.versions[name]?.firstIndex(where: { $0.info.version == version }) else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            self.versions[name]!.remove(at: index)
        }

        func list(_ query: ServiceQuery) -> [ServiceInfo] {
            switch query {
            case .all: return self.versions.values.flatMap { $0.map(\.info) }
            case .named(let name): return self.versions[name]?.map(\.info) ?? []
            case .version(let name, let version): return self.versions[name]?.map(\.info).filter { $0.version == version } ?? []
            }
        }
    }

    func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try await self.store.find(name, version).info
    }

    func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        await self.store.list(query)
    }

    func deleteService(_ name: String, version: String) async throws {
        try await self.store.delete(name, version)
    }

    func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        guard let handler = definition.handler else { throw MLDeployError.unsupported("Python services", backend: "tiny") }
        let info = ServiceInfo(
            name: definition.name, version: definition.version ?? UUID().uuidString, description: definition.description,
            operationID: definition.effectiveAlias, inputs: definition.inputs ?? [], outputs: definition.outputs ?? [],
            runtime: .swift, artifacts: definition.artifacts ?? [], handlerName: handler.name
        )
        try await self.store.insert(info, handler)
        return info
    }

    func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        var (info, handler) = try await self.store.find(definition.name, definition.version)
        info.description = definition.description ?? info.description
        info.operationID = definition.alias ?? info.operationID
        info.inputs = definition.inputs ?? info.inputs
        info.outputs = definition.outputs ?? info.outputs
        info.artifacts = definition.artifacts ?? info.artifacts
        handler = definition.handler ?? handler
        await self.store.replace(info, handler)
        return info
    }

    func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        let (info, handler) = try await self.store.find(request.service.name, request.service.version)
        var call = ServiceCall(service: info, inputs: try info.bindInputs(request.inputs))
        do {
            try await handler.run(&call)
        } catch {
            return .failure(service: info, errorMessage: "\(error)", consoleOutput: call.consoleOutput)
        }
        let artifacts = call.artifacts.filter { info.artifacts.contains($0.key) }
        return try ServiceResponse(service: info, outputs: try info.checkOutputs(call.outputs), artifacts: artifacts, consoleOutput: call.consoleOutput)
    }
}
