@testable import MLServerBackend
import Testing

@Suite("MLServer backend paths")
struct PathEncodingTests {
    @Test("path components keep unreserved characters and percent-encode the rest, as UTF-8", arguments: [
        ("TxService", "TxService"), ("v1.2.2", "v1.2.2"), ("a-b_c~d", "a-b_c~d"),
        ("1.0 beta/x", "1.0%20beta%2Fx"), ("café", "caf%C3%A9"), ("a?b#c%", "a%3Fb%23c%25"),
    ])
    func component(_ raw: String, _ encoded: String) {
        #expect(MLServerBackend.component(raw) == encoded)
    }
}
