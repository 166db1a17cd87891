import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployHTTP

/// The Python fault-injecting server of `Resources/fault_server.py`, on a loopback port.
final class FaultServer: Sendable {
    let child: ChildProcess
    let port: Int
    let scheme: String

    private init(child: ChildProcess, port: Int, scheme: String) {
        self.child = child
        self.port = port
        self.scheme = scheme
    }

    static func start(tls: Certificates? = nil, requireClientCertificate: Bool = false, maximumTLS12: Bool = false) async throws -> FaultServer {
        let script = Bundle.module.url(forResource: "Resources/fault_server", withExtension: "py")!.path
        var arguments = [script]
        if let tls {
            arguments += ["--tls", tls.serverCertificate, tls.serverKey]
            if requireClientCertificate { arguments += ["--client-ca", tls.caCertificate] }
            if maximumTLS12 { arguments += ["--max-tls", "1.2"] }
        }
        let child = try ChildProcess("/usr/bin/env", ["python3"] + arguments, name: "fault server")
        let line = try await child.waitForLine { $0.hasPrefix("PORT ") }
        return FaultServer(child: child, port: Int(line.dropFirst(5))!, scheme: tls == nil ? "http" : "https")
    }

    /// `http://127.0.0.1:PORT/path`.
    func url(_ path: String, host: String = "127.0.0.1") -> String {
        "\(self.scheme)://\(host):\(self.port)\(path)"
    }

    func stop() {
        self.child.stop()
    }

    /// Runs `body` with a fresh server, stopping it afterwards.
    static func with(tls: Certificates? = nil, requireClientCertificate: Bool = false, _ body: (FaultServer) async throws -> Void) async throws {
        let server = try await FaultServer.start(tls: tls, requireClientCertificate: requireClientCertificate)
        defer { server.stop() }
        try await body(server)
    }

    /// Reads the server's `/admin/stats` counters.
    func stats(_ client: HTTPClient) async throws -> [String: Int] {
        var request = try HTTPRequest(.get, self.url("/admin/stats"))
        request.options.authenticate = false
        let response = try await client.send(request)
        let json = try JSONValue(parsing: response.bytes)
        var counters: [String: Int] = [:]
        for member in json.objectValue ?? [:] { counters[member.key] = member.value.intValue }
        return counters
    }
}

/// A client that runs `body` and is always shut down.
func withHTTPClient(
    _ configuration: HTTPClient.Configuration = HTTPClient.Configuration(),
    middlewares: [any HTTPClientMiddleware] = [],
    _ body: (HTTPClient) async throws -> Void
) async throws {
    let client = HTTPClient(configuration: configuration, middlewares: middlewares)
    do {
        try await body(client)
        await client.shutdown()
    } catch {
        await client.shutdown()
        throw error
    }
}

/// Test configuration: no proxy from the environment, quick retries.
func testConfiguration() -> HTTPClient.Configuration {
    var configuration = HTTPClient.Configuration()
    configuration.proxy = .none
    configuration.retry.controlPlane.initialBackoff = .milliseconds(20)
    configuration.retry.consume.initialBackoff = .milliseconds(20)
    return configuration
}

extension HTTPResponse {
    /// The body parsed as JSON.
    var json: JSONValue {
        get throws { try JSONValue(parsing: self.bytes) }
    }
}
