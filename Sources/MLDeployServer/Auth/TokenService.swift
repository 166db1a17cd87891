import Foundation
import MLDeploy
import MLDeployCrypto
import Synchronization

/// Issues and checks the server's tokens.
///
/// - **Access tokens** are self-contained: `mld1.<payload>.<signature>`, the payload a base64url JSON
///   object (`sub` the user, `uid` the user's account id, `jti` the token's own id, `iat`, `exp`)
///   and the signature HMAC-SHA256 over `mld1.<payload>` with a 32-byte key kept in `signing.key`
///   (owner-only, made on first start). It expires after ``accessLifetime`` (1 h by default, as ML
///   Server). The account id ties it to the account, not the name: a user removed and added again
///   gets a new id, and every token of the old account stops working. One can be revoked before it
///   expires (``revoke(accessToken:)``), kept in `revoked-tokens.json` until it would have expired.
/// - **Refresh tokens** are random 32-byte values, kept only as their SHA-256 in
///   `refresh-tokens.json` with their user, account id and expiry (14 days by default). Using one
///   rotates it (the old one stops working); revoking one deletes it.
public final class TokenService: Sendable {
    /// An issued pair, as `POST /login` returns it.
    public struct Grant: Sendable {
        /// The bearer token for requests.
        public let accessToken: String
        /// The token that renews the pair.
        public let refreshToken: String
        /// When the access token expires.
        public let expiresOn: Date
        /// Its lifetime in seconds.
        public let expiresIn: Int

        /// ML Server's `AccessTokenResponse` JSON, as `POST /login` answers it.
        public var json: JSONValue {
            [
                "token_type": "Bearer", "access_token": .string(self.accessToken), "expires_in": .integer(self.expiresIn),
                "expires_on": .integer(Int(self.expiresOn.timeIntervalSince1970)), "refresh_token": .string(self.refreshToken),
            ]
        }
    }

    /// How long access tokens live.
    public let accessLifetime: Duration
    /// How long refresh tokens live.
    public let refreshLifetime: Duration
    private let key: [UInt8]
    private let refreshPath: String
    private let refreshTokens = Mutex<[String: RefreshEntry]>([:])
    private let revokedPath: String
    /// Revoked access tokens' ids, with when each would have expired (kept until then).
    private let revoked = Mutex<[String: Date]>([:])

    struct RefreshEntry {
        var user: String
        var account: String
        var expires: Date
    }

    /// What a valid access token says.
    public struct AccessTokenClaims: Sendable, Hashable {
        /// The user it was issued to.
        public let user: String
        /// The account id it was issued for (empty for a token issued without one).
        public let account: String
        /// The token's own id, for revocation.
        public let tokenID: String
        /// When it expires.
        public let expires: Date
    }

    /// Opens (or creates) the signing key and refresh-token file in `directory`.
    public init(directory: String, accessLifetime: Duration = .seconds(3600), refreshLifetime: Duration = .seconds(14 * 24 * 3600)) throws {
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
        let keyPath = directory + "/signing.key"
        if let key = try SecretFile.read(keyPath), key.count == 32 {
            self.key = key
        } else {
            let key = SecureRandom.bytes(32)
            try SecretFile.write(key, to: keyPath)
            self.key = key
        }
        self.refreshPath = directory + "/refresh-tokens.json"
        if let bytes = try SecretFile.read(self.refreshPath), let json = try? JSONValue(parsing: bytes) {
            var tokens: [String: RefreshEntry] = [:]
            for member in json["tokens"]?.objectValue ?? JSONObject() {
                if let user = member.value["user"]?.stringValue, let expires = member.value["expires"]?.doubleValue {
                    tokens[member.key] = RefreshEntry(user: user, account: member.value["account"]?.stringValue ?? "", expires: Date(timeIntervalSince1970: expires))
                }
            }
            self.refreshTokens.withLock { $0 = tokens }
        }
        self.revokedPath = directory + "/revoked-tokens.json"
        if let bytes = try SecretFile.read(self.revokedPath), let json = try? JSONValue(parsing: bytes) {
            var revoked: [String: Date] = [:]
            for member in json["tokens"]?.objectValue ?? JSONObject() {
                if let expires = member.value.doubleValue { revoked[member.key] = Date(timeIntervalSince1970: expires) }
            }
            self.revoked.withLock { $0 = revoked }
        }
    }

    /// A new access and refresh token for `user`'s account `account` (its id in the user store).
    public func issue(for user: String, account: String = "", now: Date = Date()) throws -> Grant {
        let expires = now.addingTimeInterval(Self.seconds(self.accessLifetime))
        let payload: JSONValue = [
            "sub": .string(user), "uid": .string(account), "jti": .string(Base64URL.encode(SecureRandom.bytes(12))),
            "iat": .integer(Int(now.timeIntervalSince1970)), "exp": .integer(Int(expires.timeIntervalSince1970)),
        ]
        let body = "mld1." + Base64URL.encode(try payload.serializedBytes())
        let access = body + "." + Base64URL.encode(HMAC.sha256(key: self.key, message: Array(body.utf8)))
        let refresh = Base64URL.encode(SecureRandom.bytes(32))
        try self.changeRefreshTokens { tokens in
            tokens = tokens.filter { $0.value.expires > now }
            tokens[SHA256.hex(Array(refresh.utf8))] = RefreshEntry(user: user, account: account, expires: now.addingTimeInterval(Self.seconds(self.refreshLifetime)))
        }
        return Grant(accessToken: access, refreshToken: refresh, expiresOn: expires, expiresIn: Int(Self.seconds(self.accessLifetime)))
    }

    /// What an access token says, or `nil` if it is malformed, forged, expired or revoked.
    public func claims(forAccessToken token: String, now: Date = Date()) -> AccessTokenClaims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mld1", let signature = Base64URL.decode(String(parts[2])) else { return nil }
        let body = parts[0] + "." + parts[1]
        guard SecureRandom.constantTimeEquals(HMAC.sha256(key: self.key, message: Array(body.utf8)), signature),
            let payloadBytes = Base64URL.decode(String(parts[1])), let payload = try? JSONValue(parsing: payloadBytes),
            let user = payload["sub"]?.stringValue, let expires = payload["exp"]?.intValue, Double(expires) > now.timeIntervalSince1970
        else { return nil }
        let tokenID = payload["jti"]?.stringValue ?? ""
        if !tokenID.isEmpty, self.revoked.withLock({ $0[tokenID] != nil }) { return nil }
        return AccessTokenClaims(user: user, account: payload["uid"]?.stringValue ?? "", tokenID: tokenID, expires: Date(timeIntervalSince1970: Double(expires)))
    }

    /// The user an access token was issued to, or `nil` if it is malformed, forged, expired or revoked.
    public func user(forAccessToken token: String, now: Date = Date()) -> String? {
        self.claims(forAccessToken: token, now: now)?.user
    }

    /// Exchanges a refresh token for a new pair (the old refresh token stops working).
    ///
    /// - Parameter currentAccount: The user's account id now (`nil` when the user no longer
    ///   exists); a token issued to an earlier account of the same name is refused. Without it,
    ///   the account is not checked.
    /// - Throws: ``MLDeploy/MLDeployError/Code/authenticationFailed`` for an unknown, revoked or
    ///   expired token, or one of an account that no longer exists.
    public func refresh(_ token: String, now: Date = Date(), currentAccount: ((String) -> String?)? = nil) throws -> Grant {
        let hash = SHA256.hex(Array(token.utf8))
        var entry: RefreshEntry?
        try self.changeRefreshTokens { tokens in
            if let found = tokens.removeValue(forKey: hash), found.expires > now { entry = found }
        }
        guard let entry, currentAccount.map({ $0(entry.user) == entry.account }) ?? true else {
            throw MLDeployError(code: .authenticationFailed, message: "The refresh token is unknown, revoked or expired; log in again.")
        }
        return try self.issue(for: entry.user, account: entry.account, now: now)
    }

    /// Revokes a refresh token; an unknown one is fine (revoking is idempotent).
    public func revoke(_ token: String) throws {
        let hash = SHA256.hex(Array(token.utf8))
        try self.changeRefreshTokens { tokens in tokens[hash] = nil }
    }

    /// Revokes an access token before it expires: every request with it is refused from now on.
    public func revoke(accessToken claims: AccessTokenClaims, now: Date = Date()) throws {
        guard !claims.tokenID.isEmpty else { return }
        try self.revoked.withLock { revoked in
            var changed = revoked.filter { $0.value > now }
            changed[claims.tokenID] = claims.expires
            var json = JSONObject()
            for id in changed.keys.sorted() { json.append(id, .double(changed[id]!.timeIntervalSince1970)) }
            try SecretFile.write(try JSONValue.object(["format": 1, "tokens": .object(json)]).serializedBytes(), to: self.revokedPath)
            revoked = changed
        }
    }

    private func changeRefreshTokens(_ body: (inout [String: RefreshEntry]) throws -> Void) throws {
        try self.refreshTokens.withLock { tokens in
            var changed = tokens
            try body(&changed)
            var json = JSONObject()
            for hash in changed.keys.sorted() {
                let entry = changed[hash]!
                json.append(hash, ["user": .string(entry.user), "account": .string(entry.account), "expires": .double(entry.expires.timeIntervalSince1970)])
            }
            try SecretFile.write(try JSONValue.object(["format": 1, "tokens": .object(json)]).serializedBytes(), to: self.refreshPath)
            tokens = changed
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5), for tokens.
/// Unpadded base64url (RFC 4648 §5), coded directly on bytes: every authenticated request decodes
/// its token, and going through Foundation's base64 plus string replacements cost a fifth of the
/// server's CPU on fast routes.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[Int(chunk >> UInt32(shift) & 0x3F)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            if rest == 2 { output.append(alphabet[Int(chunk >> 6 & 0x3F)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes, or `nil` for a character outside the alphabet or an impossible length.
    static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value = values[Int(character)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(accumulator >> UInt32(bits) & 0xFF))
            }
        }
        // Leftover bits must be fewer than 6 (a length of 4n + 1 is impossible) and zero.
        guard bits < 6, accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return output
    }
}
