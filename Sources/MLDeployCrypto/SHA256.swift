import COpenSSL
import Foundation

/// SHA-256 over OpenSSL's libcrypto, one shot or incrementally.
///
/// ```swift
/// SHA256.hex(Array("abc".utf8))   // "ba7816bf…"
/// var hasher = SHA256()
/// hasher.update(chunk1); hasher.update(chunk2)
/// let digest = hasher.finalize()
/// ```
public struct SHA256: ~Copyable {
    /// The digest length in bytes.
    public static let byteCount = 32

    private let context: OpaquePointer

    /// Starts a digest.
    public init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("OpenSSL could not start a SHA-256 digest (out of memory)")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(self.context)
    }

    /// Adds bytes.
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { raw in
            _ = EVP_DigestUpdate(self.context, raw.baseAddress, raw.count)
        }
    }

    /// Adds bytes from a raw buffer.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        _ = EVP_DigestUpdate(self.context, buffer.baseAddress, buffer.count)
    }

    /// The digest of everything added.
    public consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Self.byteCount)
        var length: UInt32 = 0
        _ = digest.withUnsafeMutableBytes { EVP_DigestFinal_ex(self.context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) }
        return digest
    }

    /// The digest of `bytes`.
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The digest of `bytes` as lower-case hex.
    public static func hex(_ bytes: some ContiguousBytes) -> String {
        Hex.encode(Self.hash(bytes))
    }
}

/// Lower-case hexadecimal text of bytes.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `[0xde, 0xad]` → `"dead"`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(Self.digits[Int(byte >> 4)])
            text.append(Self.digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
