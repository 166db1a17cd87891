import Foundation
import MLDeploy
import Synchronization

/// What a check works with: clients on fresh backends, unique names, expectations, clean-up.
final class ConformanceHarness: Sendable {
    let check: String
    let configuration: ConformanceConfiguration
    /// A prefix unique to this run of this check, so checks never see each other's services.
    let prefix: String
    private let deployed = Mutex<[ServiceReference]>([])
    private let clients = Mutex<[DeployClient]>([])

    init(check: String, configuration: ConformanceConfiguration) {
        self.check = check
        self.configuration = configuration
        self.prefix = "cf-" + UUID().uuidString.prefix(8).lowercased() + "-"
    }

    var flavor: ServiceFlavor { self.configuration.flavor }

    /// A service name unique to this check run.
    func name(_ base: String) -> String { self.prefix + base }

    /// A client on a fresh backend wrapped in a lifecycle recorder. Shut down by ``cleanUp()``
    /// unless the check shuts it down itself.
    func client(authenticate: Bool = true) async throws -> (DeployClient, LifecycleRecorder) {
        let recorder = LifecycleRecorder(try await self.configuration.makeBackend())
        let client = try await DeployClient(
            target: .backend(recorder),
            auth: authenticate ? self.configuration.credentials : nil,
            registry: self.configuration.registry
        )
        self.clients.withLock { $0.append(client) }
        return (client, recorder)
    }

    /// A client on a fresh backend.
    func client() async throws -> DeployClient {
        try await self.client(authenticate: true).0
    }

    /// Deploys through `builder`, remembering the version for clean-up.
    func deploy(_ builder: ServiceBuilder) async throws -> Service {
        let service = try await builder.deploy()
        self.deployed.withLock { $0.append(service.info.reference) }
        return service
    }

    /// Deploys a realtime service, remembering the version for clean-up.
    func deploy(_ builder: RealtimeServiceBuilder) async throws -> Service {
        let service = try await builder.deploy()
        self.deployed.withLock { $0.append(service.info.reference) }
        return service
    }

    /// Deletes every version the check deployed (ignoring ones it already deleted) and shuts down
    /// every client.
    func cleanUp() async {
        let deployed = self.deployed.withLock { $0 }
        let clients = self.clients.withLock { $0 }
        var cleaner = clients.first { !$0.isShutDown }
        if cleaner == nil, !deployed.isEmpty {
            cleaner = try? await self.client()
        }
        if let client = cleaner {
            for reference in deployed {
                try? await client.deleteService(reference.name, version: reference.version)
            }
        }
        for client in self.clients.withLock({ $0 }) {
            try? await client.shutdown()
        }
    }

    // MARK: Expectations

    func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> ConformanceFailure {
        ConformanceFailure(check: self.check, message: message, location: "\(file):\(line)")
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) throws {
        if !condition { throw self.fail(message(), file: file, line: line) }
    }

    func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String, file: StaticString = #fileID, line: UInt = #line) throws {
        if actual != expected {
            throw self.fail("\(what): expected \(expected), got \(actual)", file: file, line: line)
        }
    }

    /// Expects `body` to throw an ``MLDeployError`` with `code`; returns it.
    @discardableResult
    func expectError<T>(
        _ code: MLDeployError.Code,
        _ what: String,
        file: StaticString = #fileID,
        line: UInt = #line,
        _ body: () async throws -> T
    ) async throws -> MLDeployError {
        do {
            _ = try await body()
        } catch let error as MLDeployError {
            if error.code == code { return error }
            throw self.fail("\(what): expected error \(code), got \(error)", file: file, line: line)
        } catch {
            throw self.fail("\(what): expected error \(code), got \(type(of: error)): \(error)", file: file, line: line)
        }
        throw self.fail("\(what): expected error \(code), but it succeeded", file: file, line: line)
    }

    /// The names of the versions of `name` that exist, oldest first.
    func versions(of name: String, client: DeployClient) async throws -> [String] {
        try await client.listServices(name).map(\.version)
    }
}
