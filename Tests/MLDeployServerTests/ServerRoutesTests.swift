import Foundation
import InMemoryBackend
import Logging
import MLDeploy
import MLDeployServer
import ServiceRuntime
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real server on a free loopback port over a memory backend, with users `admin` (Owner),
/// `carol` (Contributor) and `rita` (Reader), all with the password `Pass123!`.
struct TestServer: Sendable {
    let client: DeployClient
    let server: MLDeployServer
    let base: URL
    let dataDirectory: String

    /// Logs in and returns the access token.
    func token(_ user: String = "admin", password: String = "Pass123!") async throws -> String {
        let answer = try await call(self.base, "POST", "/login", body: #"{"username": "\#(user)", "password": "\#(password)"}"#)
        guard answer.status == 200, let token = try JSONValue(parsing: answer.body)["access_token"]?.stringValue else {
            throw MLDeployError(code: .authenticationFailed, message: "login of \(user) failed: \(answer.status) \(answer.body)")
        }
        return token
    }
}

/// Runs `body` with a fresh ``TestServer``, then stops it and removes its data.
func withServer(
    python: Bool = false,
    logger: Logger = Logger(label: "mldeploy.server"),
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (TestServer) async throws -> Void
) async throws {
    let client = try await DeployClient(target: .backend(MemoryBackend(python: python ? .init() : nil)))
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-server-\(UUID().uuidString.prefix(8))").path
    configure(&configuration)
    let server = try MLDeployServer(client: client, configuration: configuration, logger: logger)
    // Low work factors keep the tests quick; the default is exercised in UserStoreTests.
    try await server.users.add("admin", password: "Pass123!", role: .owner, iterations: 1000)
    try await server.users.add("carol", password: "Pass123!", role: .contributor, iterations: 1000)
    try await server.users.add("rita", password: "Pass123!", role: .reader, iterations: 1000)
    let (ready, readyContinuation) = AsyncStream<Int>.makeStream()
    let running = Task { try await server.run { port in readyContinuation.yield(port) } }
    var ports = ready.makeAsyncIterator()
    let port = try #require(await ports.next())
    let test = TestServer(client: client, server: server, base: URL(string: "http://127.0.0.1:\(port)")!, dataDirectory: configuration.dataDirectory)
    let outcome = await Result(catching: { try await body(test) })
    running.cancel()
    _ = await running.result
    try await client.shutdown()
    try? FileManager.default.removeItem(atPath: configuration.dataDirectory)
    try outcome.get()
}

/// One request; returns the status and the body.
func call(_ base: URL, _ method: String, _ path: String, body: String? = nil, bytes: Data? = nil, token: String? = nil) async throws -> (status: Int, body: String) {
    var request = URLRequest(url: URL(string: base.absoluteString + path)!)
    request.httpMethod = method
    // Longer than URLSession's 60 s: under a loaded CI machine a Python call may legitimately wait
    // out the pool's 30 s queue bound and then a worker's start (up to 30 s) before answering.
    request.timeoutInterval = 150
    request.setValue(bytes == nil ? "application/json" : "application/octet-stream", forHTTPHeaderField: "Content-Type")
    if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
    request.httpBody = bytes ?? body.map { Data($0.utf8) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

@Suite("Server routes over a memory backend")
struct ServerRoutesTests {
    @Test("status, listing, get, consume and delete speak the ML Server wire format")
    func lifecycle() async throws {
        try await withServer { server in
            let (client, base, token) = (server.client, server.base, try await server.token())
            #expect(try await call(base, "GET", "/status").status == 200)
            _ = try await client.service("add").version("1.0").description("Adds")
                .handler("add") { call in call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b")) }
                .inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric]).deploy()

            let listed = try await call(base, "GET", "/services", token: token)
            #expect(listed.status == 200)
            let services = try JSONValue(parsing: listed.body)
            #expect(services.arrayValue?.count == 1)
            let info = try ServiceInfo(webServiceJSON: try #require(services.arrayValue?.first))
            #expect(info.name == "add" && info.version == "1.0" && info.inputs.map(\.name) == ["a", "b"])
            #expect(services.arrayValue?.first?["description"]?.stringValue == "Adds")

            let one = try await call(base, "GET", "/services/add/1.0", token: token)
            let oneJSON = try JSONValue(parsing: one.body)
            #expect(one.status == 200 && oneJSON.arrayValue?.count == 1)

            let consumed = try await call(base, "POST", "/api/add/1.0", body: #"{"a": 1.5, "b": 2}"#, token: token)
            #expect(consumed.status == 200)
            let result = try JSONValue(parsing: consumed.body)
            #expect(result["success"]?.boolValue == true)
            #expect(result["outputParameters"]?["sum"]?.doubleValue == 3.5)
            #expect(result["outputFiles"]?.objectValue != nil, "outputFiles is always an object")

            #expect(try await call(base, "DELETE", "/services/add/1.0", token: token).status == 200)
            #expect(try await call(base, "GET", "/services/add", token: token).body == "[]")
        }
    }

    @Test("bad input gets the right 4xx as an ML Server error body, and the server keeps serving")
    func badInput() async throws {
        try await withServer { server in
            let (client, base, token) = (server.client, server.base, try await server.token())
            _ = try await client.service("echo").version("1")
                .handler("echo") { call in call.outputs["y"] = .integer(try call.integer("x")) }
                .inputs(["x": .integer]).outputs(["y": .integer]).deploy()
            let cases: [(String, String, String?, Int, String)] = [
                ("GET", "/services/missing/1", nil, 404, "not-found"),
                ("POST", "/api/echo/1", "{not json", 400, "invalid-json"),
                ("POST", "/api/echo/1", #"{"x": "text"}"#, 400, "input-mismatch"),
                ("POST", "/api/echo/1", #"{"nope": 1}"#, 400, "input-mismatch"),
                ("POST", "/api/echo/1", "[1]", 400, "input-mismatch"),
                ("GET", "/services/..%2Fetc/1", nil, 400, "invalid-name"),
            ]
            for (method, path, body, status, type) in cases {
                let answer = try await call(base, method, path, body: body, token: token)
                #expect(answer.status == status, "\(method) \(path)")
                let error = try JSONValue(parsing: answer.body)
                #expect(error["exceptionType"]?.stringValue == type, "\(method) \(path): \(answer.body)")
                #expect(error["message"]?.stringValue?.isEmpty == false)
            }
            #expect(try await call(base, "POST", "/api/echo/1", body: #"{"x": 4}"#, token: token).status == 200)
        }
    }
}

@Suite("Server OpenAPI document")
struct OpenAPIDocumentTests {
    /// `METHOD /path` for every operation in docs/openapi.yaml, read line by line (paths at two
    /// spaces of indentation, methods at four).
    static func documentedRoutes() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var routes: [String] = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, !line.isEmpty, !line.hasPrefix(" "), !line.hasPrefix("#") { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PATCH", "PUT", "DELETE"].contains(method) { routes.append("\(method) \(path)") }
            }
        }
        return routes.sorted()
    }

    @Test("every route the server serves is documented, and every documented route is served")
    func routesMatch() async throws {
        try await withServer { server in
            let served = server.server.routes
            let documented = try Self.documentedRoutes()
            #expect(served.count > 30)
            #expect(Set(served).subtracting(documented).sorted() == [], "served but not in docs/openapi.yaml")
            #expect(Set(documented).subtracting(served).sorted() == [], "in docs/openapi.yaml but not served")
        }
    }
}
