import FileStoreBackend
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MLDeploy
import MLDeployHTTP
import MLDeployServer
import MLDeployTestSupport
import MLServerBackend
import Testing

/// The server `mldeploy serve` runs — ``MLDeployServer`` over a filesystem store with real Python
/// workers — on a loopback port, in the test process, with the users the tests log in as.
struct LocalMLServer: Sendable {
    let base: String
    let port: Int
    let server: MLDeployServer
    let store: DeployClient

    static let owner = AuthContext.password(username: "admin", password: "Pass123!")
    static let contributor = AuthContext.password(username: "carol", password: "Pass123!")
    static let reader = AuthContext.password(username: "rita", password: "Pass123!")

    /// Runs `body` with a fresh server, then stops it and removes its files.
    static func with(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: @Sendable (LocalMLServer) async throws -> Void
    ) async throws {
        let directory = try temporaryDirectory("mlserver")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await DeployClient(target: .backend(FileStore(root: directory.appendingPathComponent("services").path, fsync: false)))
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory.appendingPathComponent("data").path
        configure(&configuration)
        var logger = Logger(label: "mldeploy.server")
        logger.logLevel = .warning
        let server = try MLDeployServer(client: store, configuration: configuration, logger: logger)
        for (user, role) in [("admin", ServerRole.owner), ("carol", .contributor), ("rita", .reader)] {
            try await server.users.add(user, password: "Pass123!", role: role, iterations: 1000)
        }
        let (ready, readyContinuation) = AsyncStream<Int>.makeStream()
        let running = Task { try await server.run { port in readyContinuation.yield(port) } }
        var ports = ready.makeAsyncIterator()
        let port = try #require(await ports.next())
        let local = LocalMLServer(base: "http://127.0.0.1:\(port)", port: port, server: server, store: store)
        let outcome = await Result { try await body(local) }
        running.cancel()
        _ = await running.result
        try await store.shutdown()
        try outcome.get()
    }

    /// A client of the MLServer backend for this server (or for `base`, a front in front of it).
    func client(_ auth: AuthContext? = LocalMLServer.owner, base: String? = nil, http: HTTPClientSettings = .init()) async throws -> DeployClient {
        try await DeployClient(target: .named("MLServer", host: base ?? self.base), auth: auth, http: http.configuration, registry: .mlServerOnly)
    }
}

/// HTTP settings the tests vary.
struct HTTPClientSettings: Sendable {
    var configuration = MLDeployHTTP.HTTPClient.Configuration()
    init() {
        self.configuration.proxy = .none
    }
}

extension BackendRegistry {
    /// A registry with only the MLServer backend.
    static var mlServerOnly: BackendRegistry {
        let registry = BackendRegistry()
        try! registry.register(.mlServer)
        return registry
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// The logging, fault-injecting proxy of `Resources/front.py`, in front of a server.
final class Front: Sendable {
    let child: ChildProcess
    let base: String

    private init(child: ChildProcess, base: String) {
        self.child = child
        self.base = base
    }

    static func start(upstreamPort: Int) async throws -> Front {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/front.py").path
        let child = try ChildProcess("/usr/bin/env", ["python3", script, String(upstreamPort)], name: "front")
        let line = try await child.waitForLine { $0.hasPrefix("PORT ") }
        return Front(child: child, base: "http://127.0.0.1:\(line.dropFirst(5).trimmingCharacters(in: .whitespaces))")
    }

    /// One logged request.
    struct Request: Sendable {
        let method: String
        let path: String
        let headers: [String: String]
        let body: Data

        var json: JSONValue? { try? JSONValue(parsing: self.body) }
    }

    func requests() async throws -> [Request] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: self.base + "/__front/log")!)
        return try (JSONValue(parsing: data).arrayValue ?? []).map { entry in
            Request(
                method: entry["method"]?.stringValue ?? "", path: entry["path"]?.stringValue ?? "",
                headers: (entry["headers"]?.objectValue ?? JSONObject()).reduce(into: [:]) { $0[$1.key] = $1.value.stringValue ?? "" },
                body: Data(base64Encoded: entry["body"]?.stringValue ?? "") ?? Data()
            )
        }
    }

    func clearLog() async throws {
        var request = URLRequest(url: URL(string: self.base + "/__front/log")!)
        request.httpMethod = "DELETE"
        _ = try await URLSession.shared.data(for: request)
    }

    /// The next `times` requests whose path contains `match` get `status`.
    func fail(_ match: String, status: Int, times: Int) async throws {
        var request = URLRequest(url: URL(string: "\(self.base)/__front/fail?match=\(match)&status=\(status)&times=\(times)")!)
        request.httpMethod = "POST"
        _ = try await URLSession.shared.data(for: request)
    }

    func stop() { self.child.stop() }
}
