import Foundation
import MLDeploy
@testable import MLDeployServer
import Testing

@Suite("Server tokens")
struct TokenServiceTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-tokens-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("access tokens verify until they expire, survive a restart, and cannot be forged")
    func accessTokens() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokens = try TokenService(directory: directory, accessLifetime: .seconds(60))
        let now = Date()
        let grant = try await tokens.issue(for: "admin", now: now)
        #expect(grant.expiresIn == 60)
        #expect(grant.json["token_type"]?.stringValue == "Bearer" && grant.json["expires_on"]?.intValue == Int(now.timeIntervalSince1970) + 60)
        #expect(await tokens.user(forAccessToken: grant.accessToken, now: now) == "admin")
        #expect(await tokens.user(forAccessToken: grant.accessToken, now: now.addingTimeInterval(61)) == nil, "expired")
        #expect(try await TokenService(directory: directory).user(forAccessToken: grant.accessToken, now: now) == "admin", "the key persists")
        #expect(try await TokenService(directory: try self.directory()).user(forAccessToken: grant.accessToken, now: now) == nil, "another key")

        // Change the payload (another user) and keep the signature: refused.
        let parts = grant.accessToken.split(separator: ".").map(String.init)
        let forgedPayload = Data(#"{"sub":"root","iat":0,"exp":9999999999}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        for forged in [parts[0] + "." + forgedPayload + "." + parts[2], grant.accessToken + "x", "", "mld1..", "Bearer"] {
            #expect(await tokens.user(forAccessToken: forged, now: now) == nil, "\(forged)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/signing.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a token checked once is remembered, yet expiry and a revocation by another process count on the next request")
    func rememberedTokens() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokens = try TokenService(directory: directory, accessLifetime: .seconds(60))
        let now = Date()
        let grant = try await tokens.issue(for: "admin", now: now)
        let claims = try #require(try await tokens.verify(accessToken: grant.accessToken, now: now))
        #expect(try await tokens.verify(accessToken: grant.accessToken, now: now) == claims, "the remembered claims are the checked ones")
        #expect(try await tokens.verify(accessToken: grant.accessToken, now: now.addingTimeInterval(61)) == nil, "a remembered token still expires")
        // One character changed after the token was remembered: checked afresh, and refused.
        var altered = Array(grant.accessToken)
        altered[altered.count - 2] = altered[altered.count - 2] == "A" ? "B" : "A"
        #expect(try await tokens.verify(accessToken: String(altered), now: now) == nil)
        // Revoked through another instance on the same files (another node's CLI): refused at once.
        try await TokenService(directory: directory).revoke(accessToken: claims, now: now)
        #expect(try await tokens.verify(accessToken: grant.accessToken, now: now) == nil)
    }

    @Test("refresh tokens rotate, expire and can be revoked; only their hashes are stored")
    func refreshTokens() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokens = try TokenService(directory: directory, refreshLifetime: .seconds(100))
        let now = Date()
        let first = try await tokens.issue(for: "alice", now: now)
        let stored = try String(contentsOfFile: directory + "/refresh-tokens.json", encoding: .utf8)
        #expect(!stored.contains(first.refreshToken))

        let second = try await tokens.refresh(first.refreshToken, now: now)
        #expect(await tokens.user(forAccessToken: second.accessToken, now: now) == "alice")
        await #expect { try await tokens.refresh(first.refreshToken, now: now) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
        await #expect { try await tokens.refresh(second.refreshToken, now: now.addingTimeInterval(101)) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }

        let third = try await tokens.issue(for: "alice", now: now)
        try await tokens.revoke(third.refreshToken)
        try await tokens.revoke(third.refreshToken)
        await #expect { try await tokens.refresh(third.refreshToken, now: now) } throws: { ($0 as? MLDeployError)?.code == .authenticationFailed }
        // Another instance (a restarted server) honours the stored tokens.
        let fourth = try await tokens.issue(for: "bob", now: now)
        #expect(try await TokenService(directory: directory).refresh(fourth.refreshToken, now: now).accessToken.hasPrefix("mld1."))
    }
}

@Suite("Base64URL")
struct Base64URLTests {
    @Test("round trips every length and agrees with Foundation's base64; refuses what is not base64url")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<48 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64URL.encode(bytes)
            let foundation = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(encoded == foundation, "length \(length)")
            #expect(Base64URL.decode(encoded) == bytes, "length \(length)")
        }
        for bad in ["a", "ab+c", "ab/c", "ab=c", "abcde", "é"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
    }
}
