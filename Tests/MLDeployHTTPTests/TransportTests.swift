import Foundation
import MLDeploy
import MLDeployHTTP
import Testing

@Suite("HTTP transport on libcurl")
struct TransportTests {
    @Test("sends method, headers and body, and reads status, headers and body")
    func roundTrip() async throws {
        try await FaultServer.with { server in
            try await withHTTPClient(testConfiguration()) { client in
                let request = try HTTPRequest(.post, server.url("/echo?x=1"), headers: ["Content-Type": "application/json", "X-Custom": "a b"], body: .string(#"{"a":1}"#))
                let response = try await client.send(request)
                #expect(response.status == 200)
                #expect(response.headers["content-type"] == "application/json")
                let echo = try response.json
                #expect(echo["method"] == "POST")
                #expect(echo["query"]?["x"] == "1")
                #expect(echo["headers"]?["x-custom"] == "a b")
                #expect(echo["headers"]?["user-agent"]?.stringValue?.hasPrefix("mldeploy/") == true)
                #expect(echo["headers"]?["x-request-id"]?.stringValue?.count == 36)
                #expect(echo["headers"]?["expect"] == nil)
                #expect(echo["body"] == #"{"a":1}"#)
                #expect(response.version == .http1)
            }
        }
    }
}
