import COpenSSL
import Foundation

/// HMAC-SHA256 and PBKDF2-HMAC-SHA256 over OpenSSL's libcrypto.
public enum HMAC {
    /// HMAC-SHA256 of `message` under `key` (RFC 2104).
    public static func sha256(key: some ContiguousBytes, message: some ContiguousBytes) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        key.withUnsafeBytes { key in
            message.withUnsafeBytes { message in
                digest.withUnsafeMutableBufferPointer { output in
                    _ = COpenSSL.HMAC(
                        EVP_sha256(), key.baseAddress, Int32(key.count),
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                        output.baseAddress, &length
                    )
                }
            }
        }
        return digest
    }
}

/// Password-based key derivation (RFC 8018), for storing password hashes.
public enum PBKDF2 {
    /// PBKDF2-HMAC-SHA256 of `password` with `salt`.
    ///
    /// - Parameters:
    ///   - password: The password's bytes.
    ///   - salt: A random salt (16 bytes or more).
    ///   - iterations: The work factor (at least 1; 210,000 or more for passwords today).
    ///   - length: The derived key's length in bytes.
    public static func sha256(password: some ContiguousBytes, salt: some ContiguousBytes, iterations: Int, length: Int = 32) -> [UInt8] {
        precondition(iterations >= 1 && length >= 1, "PBKDF2 needs at least one iteration and one byte")
        var key = [UInt8](repeating: 0, count: length)
        password.withUnsafeBytes { password in
            salt.withUnsafeBytes { salt in
                key.withUnsafeMutableBufferPointer { output in
                    _ = PKCS5_PBKDF2_HMAC(
                        password.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(password.count),
                        salt.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(salt.count),
                        Int32(iterations), EVP_sha256(), Int32(length), output.baseAddress
                    )
                }
            }
        }
        return key
    }
}

/// Cryptographically secure random bytes and comparisons that do not leak timing.
public enum SecureRandom {
    /// `count` random bytes from OpenSSL's CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(status == 1, "OpenSSL's random generator failed")
        return bytes
    }

    /// Whether `a` and `b` are equal, taking the same time wherever they differ.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
    }
}
