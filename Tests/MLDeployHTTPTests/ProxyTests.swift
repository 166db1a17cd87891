import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployHTTP
import Testing

@Suite("Proxies, proven from a real tinyproxy's log")
struct ProxyTests {
    func configuration(_ proxy: HTTPClient.Proxy) -> HTTPClient.Configuration {
        var configuration = testConfiguration()
        configuration.proxy = proxy
        return configuration
    }

    func echo(_ client: HTTPClient, _ url: String) async throws -> HTTPResponse {
        try await client.send(try HTTPRequest(.get, url))
    }

    @Test("an explicit proxy carries requests, and no-proxy hosts bypass it")
    func explicit() async throws {
        let proxy = try await TinyProxy.start()
        defer { proxy.stop() }
        try await FaultServer.with { server throws in
            try await withHTTPClient(self.configuration(.explicit(proxy.url(), noProxy: ["localhost"]))) { client throws in
                let via = UUID().uuidString, direct = UUID().uuidString
                #expect(try await self.echo(client, server.url("/echo?marker=\(via)")).status == 200)
                #expect(try await self.echo(client, server.url("/echo?marker=\(direct)", host: "localhost")).status == 200)
                #expect(proxy.logText.contains("GET http://127.0.0.1:\(server.port)/echo?marker=\(via)"))
                #expect(!proxy.logText.contains(direct), "the no-proxy host went through the proxy")
            }
        }
    }

    @Test("HTTP_PROXY, HTTPS_PROXY and NO_PROXY are read from the environment, in either case")
    func environment() async throws {
        let proxy = try await TinyProxy.start()
        defer { proxy.stop() }
        try await FaultServer.with { server throws in
            for variables in [["HTTP_PROXY": proxy.url(), "NO_PROXY": "localhost"], ["http_proxy": proxy.url(), "no_proxy": "localhost,example.com"]] {
                try await withHTTPClient(self.configuration(.environment(variables))) { client throws in
                    let via = UUID().uuidString, direct = UUID().uuidString
                    _ = try await self.echo(client, server.url("/echo?marker=\(via)"))
                    _ = try await self.echo(client, server.url("/echo?marker=\(direct)", host: "localhost"))
                    #expect(proxy.logText.contains(via))
                    #expect(!proxy.logText.contains(direct))
                }
            }
            // HTTPS_PROXY does not apply to http URLs, and an empty environment means no proxy.
            for variables in [["HTTPS_PROXY": proxy.url()], [:]] {
                try await withHTTPClient(self.configuration(.environment(variables))) { client throws in
                    let marker = UUID().uuidString
                    _ = try await self.echo(client, server.url("/echo?marker=\(marker)"))
                    #expect(!proxy.logText.contains(marker))
                }
            }
        }
    }

    @Test("proxy credentials are sent, and a missing one is the proxy's 407")
    func credentials() async throws {
        let proxy = try await TinyProxy.start(credentials: ("mluser", "pa55word"))
        defer { proxy.stop() }
        try await FaultServer.with { server throws in
            try await withHTTPClient(self.configuration(.explicit(proxy.url(credentials: ("mluser", "pa55word"))))) { client throws in
                let marker = UUID().uuidString
                #expect(try await self.echo(client, server.url("/echo?marker=\(marker)")).status == 200)
                #expect(proxy.logText.contains(marker))
            }
            try await withHTTPClient(self.configuration(.explicit(proxy.url()))) { client throws in
                #expect(try await self.echo(client, server.url("/echo")).status == 407)
            }
        }
    }

    @Test("HTTPS goes through the proxy as a CONNECT tunnel, verified end to end")
    func tunnel() async throws {
        let certificates = try Certificates.shared.get()
        let proxy = try await TinyProxy.start()
        defer { proxy.stop() }
        try await FaultServer.with(tls: certificates) { server throws in
            var configuration = self.configuration(.explicit(proxy.url()))
            configuration.tls.caBundle = certificates.caCertificate
            try await withHTTPClient(configuration) { client throws in
                #expect(try await self.echo(client, server.url("/echo")).status == 200)
                #expect(proxy.logText.contains("CONNECT 127.0.0.1:\(server.port)"))
            }
        }
    }

    @Test("a proxy that is down is a clear 'unreachable'")
    func proxyDown() async throws {
        var configuration = self.configuration(.explicit("http://127.0.0.1:\(try freePort())"))
        configuration.retry = .disabled
        try await withHTTPClient(configuration) { client throws in
            await #expect { try await self.echo(client, "http://127.0.0.1:9/x") } throws: { ($0 as? MLDeployError)?.code == .unreachable }
        }
    }
}
