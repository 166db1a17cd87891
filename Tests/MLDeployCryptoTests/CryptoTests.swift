import MLDeployCrypto
import Testing

@Suite("MLDeployCrypto against published test vectors")
struct CryptoTests {
    @Test("SHA-256 (FIPS 180-2 examples)", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(input: String, expected: String) {
        #expect(SHA256.hex(Array(input.utf8)) == expected)
        var hasher = SHA256()
        for byte in input.utf8 { hasher.update([byte]) }
        #expect(Hex.encode(hasher.finalize()) == expected)
    }

    @Test("HMAC-SHA256 (RFC 4231 test cases 1 and 2)")
    func hmac() {
        #expect(Hex.encode(HMAC.sha256(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Hex.encode(HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("PBKDF2-HMAC-SHA256 (RFC 7914 §11)")
    func pbkdf2() {
        #expect(Hex.encode(PBKDF2.sha256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64))
            == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    @Test("random bytes differ and compare in constant time")
    func random() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && a != b)
        #expect(SecureRandom.constantTimeEquals(a, a))
        #expect(!SecureRandom.constantTimeEquals(a, b))
        #expect(!SecureRandom.constantTimeEquals(a, Array(a.prefix(31))))
    }
}
