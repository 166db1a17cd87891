import Foundation
import MLDeploy
import MLDeployCrypto
import Synchronization

/// Issues and checks the server's tokens.
///
/// - **Access tokens** are self-contained: `mld1.<payload>.<signature>`, the payload a base64url JSON
///   object (`sub` the user, `uid` the user's account id, `jti` the token's own id, `iat`, `exp`)
///   and the signature HMAC-SHA256 over `mld1.<payload>` with a 32-byte key made on first start
///   and kept in the state store (`signing.key` in the data directory, or the database every node
///   shares, so a token from one node is good on all). It expires after ``accessLifetime`` (1 h by
///   default, as ML Server). The account id ties it to the account, not the name: a user removed
///   and added again gets a new id, and every token of the old account stops working. One can be
///   revoked before it expires (``revoke(accessToken:now:)``), remembered until it would have expired.
/// - **Refresh tokens** are random 32-byte values, kept only as their SHA-256 with their user,
///   account id and expiry (14 days by default). Using one rotates it (the old one stops working);
///   revoking one deletes it.
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
    /// Where the key and tokens are kept.
    public let store: any ServerStateStore
    /// The signing key, once read (or made).
    private let signingKey = Mutex<[UInt8]?>(nil)
    /// Tokens whose signature was checked, with their claims (see ``signedClaims(_:)``).
    private let verifiedTokens = Mutex<[String: AccessTokenClaims]>([:])
    /// How many checked tokens are remembered before the map starts over: far more than the
    /// clients a node serves at once, and a few megabytes at most.
    static let verifiedTokenCapacity = 8192
    /// The name of the signing key among the store's secrets.
    static let keyName = "signing.key"

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

    /// Tokens kept in `store`; the signing key is read (or made, once for every node sharing the
    /// store) on first use.
    public init(store: any ServerStateStore, accessLifetime: Duration = .seconds(3600), refreshLifetime: Duration = .seconds(14 * 24 * 3600)) {
        self.store = store
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
    }

    /// Tokens kept in the files of `directory`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` when the directory cannot be made.
    public convenience init(directory: String, accessLifetime: Duration = .seconds(3600), refreshLifetime: Duration = .seconds(14 * 24 * 3600)) throws {
        self.init(store: try LocalServerState(directory: directory), accessLifetime: accessLifetime, refreshLifetime: refreshLifetime)
    }

    /// The signing key: read from the store, or made and stored by the first node that needs it
    /// (in a transaction, so nodes starting at once agree on one key).
    func key() async throws -> [UInt8] {
        if let key = self.signingKey.withLock({ $0 }) { return key }
        let key = try await self.store.transaction { transaction in
            if let key = try await transaction.value(Self.keyName, in: .secrets), key.count == 32 { return Array(key) }
            let key = SecureRandom.bytes(32)
            try await transaction.set(Self.keyName, Data(key), in: .secrets)
            return key
        }
        self.signingKey.withLock { $0 = key }
        return key
    }

    /// A new access and refresh token for `user`'s account `account` (its id in the user store).
    public func issue(for user: String, account: String = "", now: Date = Date()) async throws -> Grant {
        let key = try await self.key()
        let expires = now.addingTimeInterval(Self.seconds(self.accessLifetime))
        let payload: JSONValue = [
            "sub": .string(user), "uid": .string(account), "jti": .string(Base64URL.encode(SecureRandom.bytes(12))),
            "iat": .integer(Int(now.timeIntervalSince1970)), "exp": .integer(Int(expires.timeIntervalSince1970)),
        ]
        let body = "mld1." + Base64URL.encode(try payload.serializedBytes())
        let access = body + "." + Base64URL.encode(HMAC.sha256(key: key, message: Array(body.utf8)))
        let refresh = Base64URL.encode(SecureRandom.bytes(32))
        let entry: JSONValue = [
            "user": .string(user), "account": .string(account),
            "expires": .double(now.addingTimeInterval(Self.seconds(self.refreshLifetime)).timeIntervalSince1970),
        ]
        // Expired entries are swept now and then, not on every login.
        let sweep = Int.random(in: 0..<16) == 0
        try await self.store.transaction { transaction in
            if sweep {
                for (hash, value) in try await transaction.jsonEntries(in: .refreshTokens) where (value["expires"]?.doubleValue ?? 0) <= now.timeIntervalSince1970 {
                    try await transaction.remove(hash, in: .refreshTokens)
                }
            }
            try await transaction.set(SHA256.hex(Array(refresh.utf8)), json: entry, in: .refreshTokens)
        }
        return Grant(accessToken: access, refreshToken: refresh, expiresOn: expires, expiresIn: Int(Self.seconds(self.accessLifetime)))
    }

    /// What an access token says, or `nil` if it is malformed, forged, expired or revoked — or the
    /// store cannot be read to tell (it fails closed; ``verify(accessToken:now:)`` says why).
    public func claims(forAccessToken token: String, now: Date = Date()) async -> AccessTokenClaims? {
        try? await self.verify(accessToken: token, now: now)
    }

    /// Whether a bearer token has the shape of this server's own tokens (`mld1.…`), so that any
    /// other can go to the configured authenticators.
    static func isOwnToken(_ token: String) -> Bool { token.hasPrefix("mld1.") }

    /// What an access token says, or `nil` if it is malformed, forged, expired or revoked.
    ///
    /// - Throws: what the store throws when the key or the revocations cannot be read (a database
    ///   that is down: ``MLDeploy/MLDeployError/Code/unreachable``), so a server can answer "try
    ///   again" rather than "log in again".
    public func verify(accessToken token: String, now: Date = Date()) async throws -> AccessTokenClaims? {
        guard let claims = try await self.signedClaims(token), claims.expires.timeIntervalSince1970 > now.timeIntervalSince1970 else { return nil }
        // Revocation is checked on every request, in the store every node shares: a token revoked
        // on one node stops working on all of them at once.
        if !claims.tokenID.isEmpty, try await self.store.value(claims.tokenID, in: .revokedTokens) != nil { return nil }
        return claims
    }

    /// What a token this server signed says, expired or not; `nil` for a malformed or forged one.
    ///
    /// A signature once checked is remembered with its claims (a bounded map keyed by the whole
    /// token, so only the exact bytes that passed ever match): a client sends the same token on
    /// every request, and checking the HMAC and parsing the payload again each time was a tenth of
    /// a fast route's server time. Expiry and revocation are not remembered; the caller checks them.
    private func signedClaims(_ token: String) async throws -> AccessTokenClaims? {
        if let claims = self.verifiedTokens.withLock({ $0[token] }) { return claims }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mld1", let signature = Base64URL.decode(String(parts[2])) else { return nil }
        let key = try await self.key()
        let body = parts[0] + "." + parts[1]
        guard SecureRandom.constantTimeEquals(HMAC.sha256(key: key, message: Array(body.utf8)), signature),
            let payloadBytes = Base64URL.decode(String(parts[1])), let payload = try? JSONValue(parsing: payloadBytes),
            let user = payload["sub"]?.stringValue, let expires = payload["exp"]?.intValue
        else { return nil }
        let claims = AccessTokenClaims(
            user: user, account: payload["uid"]?.stringValue ?? "", tokenID: payload["jti"]?.stringValue ?? "", expires: Date(timeIntervalSince1970: Double(expires))
        )
        self.verifiedTokens.withLock { known in
            if known.count >= Self.verifiedTokenCapacity { known.removeAll(keepingCapacity: true) }
            known[token] = claims
        }
        return claims
    }

    /// The user an access token was issued to, or `nil` if it is malformed, forged, expired or revoked.
    public func user(forAccessToken token: String, now: Date = Date()) async -> String? {
        await self.claims(forAccessToken: token, now: now)?.user
    }

    /// Exchanges a refresh token for a new pair (the old refresh token stops working).
    ///
    /// - Parameter currentAccount: The user's account id now (`nil` when the user no longer
    ///   exists); a token issued to an earlier account of the same name is refused. Without it,
    ///   the account is not checked.
    /// - Throws: ``MLDeploy/MLDeployError/Code/authenticationFailed`` for an unknown, revoked or
    ///   expired token, or one of an account that no longer exists.
    public func refresh(_ token: String, now: Date = Date(), currentAccount: (@Sendable (String) async -> String?)? = nil) async throws -> Grant {
        let hash = SHA256.hex(Array(token.utf8))
        let entry = try await self.store.transaction { transaction -> JSONValue? in
            guard let entry = try await transaction.json(hash, in: .refreshTokens) else { return nil }
            try await transaction.remove(hash, in: .refreshTokens)
            return (entry["expires"]?.doubleValue ?? 0) > now.timeIntervalSince1970 ? entry : nil
        }
        let user = entry?["user"]?.stringValue, account = entry?["account"]?.stringValue ?? ""
        var current: String? = account
        if let user, let currentAccount { current = await currentAccount(user) }
        guard let user, current == account else {
            throw MLDeployError(code: .authenticationFailed, message: "The refresh token is unknown, revoked or expired; log in again.")
        }
        return try await self.issue(for: user, account: account, now: now)
    }

    /// Revokes a refresh token; an unknown one is fine (revoking is idempotent).
    public func revoke(_ token: String) async throws {
        let hash = SHA256.hex(Array(token.utf8))
        try await self.store.transaction { transaction in try await transaction.remove(hash, in: .refreshTokens) }
    }

    /// Revokes an access token before it expires: every request with it is refused from now on.
    public func revoke(accessToken claims: AccessTokenClaims, now: Date = Date()) async throws {
        guard !claims.tokenID.isEmpty else { return }
        try await self.store.transaction { transaction in
            for (id, expires) in try await transaction.jsonEntries(in: .revokedTokens) where (expires.doubleValue ?? 0) <= now.timeIntervalSince1970 {
                try await transaction.remove(id, in: .revokedTokens)
            }
            try await transaction.set(claims.tokenID, json: .double(claims.expires.timeIntervalSince1970), in: .revokedTokens)
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
