import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployHTTP
import Testing

@Suite("TLS with a CA made by openssl at test time")
struct TLSTests {
    func configuration(ca: Bool = true, clientCertificate: Bool = false) throws -> HTTPClient.Configuration {
        let certificates = try Certificates.shared.get()
        var configuration = testConfiguration()
        configuration.retry = .disabled
        if ca { configuration.tls.caBundle = certificates.caCertificate }
        if clientCertificate {
            configuration.tls.clientCertificate = .init(certificatePath: certificates.clientCertificate, privateKeyPath: certificates.clientKey)
        }
        return configuration
    }

    @Test("verifies the server against the configured CA")
    func verified() async throws {
        try await FaultServer.with(tls: try Certificates.shared.get()) { server throws in
            try await withHTTPClient(try self.configuration()) { client throws in
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo", host: "localhost"))).status == 200)
            }
        }
    }

    @Test("fails verification with a clear error without the CA, and passes with verification off")
    func unverified() async throws {
        try await FaultServer.with(tls: try Certificates.shared.get()) { server throws in
            var configuration = try self.configuration(ca: false)
            configuration.tls.caBundle = "/etc/ssl/certs/ca-certificates.crt"
            try await withHTTPClient(configuration) { client throws in
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/echo"))) } throws: { error in
                    guard let error = error as? MLDeployError else { return false }
                    return error.code == .tlsFailure && error.message.contains("tls.caBundle")
                }
            }
            configuration.tls.verify = false
            try await withHTTPClient(configuration) { client throws in
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
            }
        }
    }

    @Test("a CA directory works too")
    func caDirectory() async throws {
        let certificates = try Certificates.shared.get()
        let directory = try temporaryDirectory("capath")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rehash = Process()
        rehash.executableURL = URL(fileURLWithPath: "/bin/sh")
        rehash.arguments = ["-c", "cp '\(certificates.caCertificate)' '\(directory.path)/ca.pem' && cd '\(directory.path)' && ln -s ca.pem \"$(openssl x509 -hash -noout -in ca.pem).0\""]
        try rehash.run()
        rehash.waitUntilExit()
        try await FaultServer.with(tls: certificates) { server throws in
            var configuration = try self.configuration(ca: false)
            configuration.tls.caDirectory = directory.path
            configuration.tls.caBundle = nil
            try await withHTTPClient(configuration) { client throws in
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
            }
        }
    }

    @Test("authenticates with a client certificate where the server requires one")
    func clientCertificate() async throws {
        try await FaultServer.with(tls: try Certificates.shared.get(), requireClientCertificate: true) { server throws in
            try await withHTTPClient(try self.configuration()) { client throws in
                // With TLS 1.3 the client's handshake completes before the server checks for a client
                // certificate; the server's refusal then arrives either as an alert (a TLS failure) or,
                // when the server closes first, as a dropped connection.
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/echo"))) } throws: {
                    [.tlsFailure, .transportFailure].contains(($0 as? MLDeployError)?.code)
                }
            }
            try await withHTTPClient(try self.configuration(clientCertificate: true)) { client throws in
                #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
            }
            var missing = try self.configuration()
            missing.tls.clientCertificate = .init(certificatePath: "/nonexistent.pem", privateKeyPath: "/nonexistent.key")
            try await withHTTPClient(missing) { client throws in
                await #expect { try await client.send(try HTTPRequest(.get, server.url("/echo"))) } throws: { ($0 as? MLDeployError)?.code == .tlsFailure }
            }
        }
    }

    @Test("refuses a server below the minimum TLS version")
    func minimumVersion() async throws {
        let server = try await FaultServer.start(tls: try Certificates.shared.get(), maximumTLS12: true)
        defer { server.stop() }
        var configuration = try self.configuration()
        configuration.tls.minimumVersion = .tls1_2
        try await withHTTPClient(configuration) { client throws in
            #expect(try await client.send(try HTTPRequest(.get, server.url("/echo"))).status == 200)
        }
        configuration.tls.minimumVersion = .tls1_3
        try await withHTTPClient(configuration) { client throws in
            await #expect { try await client.send(try HTTPRequest(.get, server.url("/echo"))) } throws: { ($0 as? MLDeployError)?.code == .tlsFailure }
        }
    }
}

@Suite("Connection reuse and HTTP/2 against nginx")
struct NginxTests {
    func accepted(_ client: HTTPClient, _ nginx: Nginx) async throws -> Int {
        let text = try await client.send(try HTTPRequest(.get, "http://127.0.0.1:\(nginx.httpPort)/stub")).text
        // "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n…"
        let numbers = text.split(separator: "\n")[2].split(separator: " ").compactMap { Int($0) }
        return numbers[0]
    }

    @Test("keeps one connection alive across sequential requests")
    func keepAlive() async throws {
        let nginx = try await Nginx.start(certificates: try Certificates.shared.get())
        defer { nginx.stop() }
        try await withHTTPClient(testConfiguration()) { client throws in
            let before = try await self.accepted(client, nginx)
            for _ in 0..<50 {
                #expect(try await client.send(try HTTPRequest(.get, "http://127.0.0.1:\(nginx.httpPort)/small.json")).status == 200)
            }
            let after = try await self.accepted(client, nginx)
            #expect(after - before == 0, "\(after - before) new connections for 50 requests")
        }
    }

    @Test("speaks HTTP/2 when the server offers it, and HTTP/1.1 when told to")
    func http2() async throws {
        let certificates = try Certificates.shared.get()
        let nginx = try await Nginx.start(certificates: certificates)
        defer { nginx.stop() }
        var configuration = testConfiguration()
        configuration.tls.caBundle = certificates.caCertificate
        try await withHTTPClient(configuration) { client throws in
            let response = try await client.send(try HTTPRequest(.get, "https://127.0.0.1:\(nginx.httpsPort)/"))
            #expect(response.status == 200 && response.version == .http2)
            #expect(try response.json["secure"] == true)
        }
        configuration.httpVersion = .http1Only
        try await withHTTPClient(configuration) { client throws in
            #expect(try await client.send(try HTTPRequest(.get, "https://127.0.0.1:\(nginx.httpsPort)/")).version == .http1)
        }
    }
}
