import Foundation
import JWTKit
import Logging
import MLDeploy
import MLDeployHTTP
import Synchronization

/// Bearer tokens from an OpenID Connect identity provider (Microsoft Entra ID, Keycloak, Okta,
/// Auth0…): the provider's signing keys are found through its discovery document
/// (`<issuer>/.well-known/openid-configuration` → `jwks_uri`), fetched, and fetched again when a
/// token names a key id they lack (the provider rotated its keys) or when they are older than
/// ``OIDCSettings/keyRefreshInterval``. jwt-kit checks the signature; the issuer, audience, expiry
/// and not-before are checked with jwt-kit's claim checks, within ``OIDCSettings/leeway``. The
/// user's role comes from a claim (`roles` by default; `groups` for providers that send groups),
/// mapped by configuration to Owner, Contributor or Reader — the highest any value maps to.
///
/// A token whose (unverified) issuer is another's is not this authenticator's (`nil`), so tokens
/// of several providers can be accepted with one authenticator each.
public final class OIDCAuthenticator: Authenticator {
    /// What it accepts.
    public let settings: OIDCSettings
    /// `oidc`.
    public var name: String { "oidc" }
    private let http: HTTPClient
    private let ownsClient: Bool
    private let logger: Logger
    private let keys = Mutex<KeySet?>(nil)

    /// The provider's keys as last fetched.
    private struct KeySet {
        let collection: JWTKeyCollection
        let ids: Set<String>
        let fetched: ContinuousClock.Instant
    }

    /// An authenticator for `settings`' provider. `http` fetches the discovery document and keys
    /// (its proxy, TLS and timeouts apply); without one, it makes its own.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for an issuer that is not an
    ///   http(s) URL, or an empty audience.
    public init(settings: OIDCSettings, http: HTTPClient? = nil, logger: Logger = Logger(label: "mldeploy.server.oidc")) throws {
        guard let url = URL(string: settings.issuer), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw MLDeployError(code: .invalidConfiguration, message: "The OIDC issuer must be the provider's https URL (server.oidc.issuer), e.g. https://login.microsoftonline.com/<tenant>/v2.0; not '\(settings.issuer)'.")
        }
        guard !settings.audience.isEmpty else {
            throw MLDeployError(code: .invalidConfiguration, message: "OIDC sign-in needs the audience tokens must be issued for (server.oidc.audience): the server's application (client) id or URI.")
        }
        self.settings = settings
        self.http = http ?? HTTPClient(logger: logger)
        self.ownsClient = http == nil
        self.logger = logger
    }

    /// Stops the HTTP client it made.
    public func shutdown() async {
        if self.ownsClient { await self.http.shutdown() }
    }

    /// The user a token of this provider signs in, with their role; `nil` for another issuer's.
    public func authenticate(bearer token: String) async throws -> AuthenticatedUser? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.json(parts[0]), let claims = Self.json(parts[1]),
              claims["iss"]?.stringValue == self.settings.issuer else { return nil }
        let keyID = header["kid"]?.stringValue
        let keys = try await self.keys(for: keyID)
        if let keyID, self.keys.withLock({ $0?.ids.contains(keyID) }) == false {
            throw MLDeployError(code: .authenticationFailed, message: "The \(self.settings.issuer) token is refused: it is signed with a key the provider does not publish (kid \(keyID)).")
        }
        let verified: OIDCClaims
        do {
            verified = try await keys.verify(token, as: OIDCClaims.self)
            let now = Date()
            try verified.exp.verifyNotExpired(currentDate: now.addingTimeInterval(-self.settings.leeway.seconds))
            try verified.nbf?.verifyNotBefore(currentDate: now.addingTimeInterval(self.settings.leeway.seconds))
            guard let audience = verified.aud else { throw MLDeployError(code: .authenticationFailed, message: "The token names no audience (aud).") }
            try audience.verifyIntendedAudience(includes: self.settings.audience)
        } catch let error as JWTError {
            throw MLDeployError(code: .authenticationFailed, message: "The \(self.settings.issuer) token is refused: \(Self.describe(error)).")
        }
        // The signature holds, so the claims read above are the token's own.
        let user = claims[self.settings.userClaim]?.stringValue ?? claims["sub"]?.stringValue ?? ""
        guard !user.isEmpty else {
            throw MLDeployError(code: .authenticationFailed, message: "The token names no user (\(self.settings.userClaim) or sub).")
        }
        let values: [String] = switch claims[self.settings.roleClaim] {
        case .string(let value)?: [value]
        case .array(let values)?: values.compactMap(\.stringValue)
        default: []
        }
        let mapped = values.compactMap { self.settings.roles[$0] }
        guard let role = ServerRole.allCases.first(where: mapped.contains) ?? self.settings.defaultRole else {
            throw MLDeployError(
                code: .authenticationFailed,
                message: "\(user) has no role here: the token's \(self.settings.roleClaim) claim (\(values.isEmpty ? "absent" : values.joined(separator: ", "))) names none that server.oidc.owners, contributors or readers map."
            )
        }
        return AuthenticatedUser(name: user, role: role, authenticator: self.name)
    }

    /// The provider's keys: fetched when there are none, when they are old, or when they lack
    /// `keyID` (at most once per ``OIDCSettings/minimumRefreshInterval`` for that reason, so
    /// tokens with made-up key ids cannot make the server hammer the provider).
    private func keys(for keyID: String?) async throws -> JWTKeyCollection {
        let now = ContinuousClock.now
        let current = self.keys.withLock { $0 }
        if let current {
            let age = now - current.fetched
            let known = keyID.map(current.ids.contains) ?? true
            if age < self.settings.keyRefreshInterval, known || age < self.settings.minimumRefreshInterval { return current.collection }
        }
        do {
            let fetched = try await self.fetchKeys()
            self.keys.withLock { $0 = fetched }
            return fetched.collection
        } catch {
            // The provider is away: the keys held still check the tokens they can.
            if let current {
                self.logger.warning("could not refresh the OIDC provider's keys", metadata: ["issuer": "\(self.settings.issuer)", "error": "\(error)"])
                return current.collection
            }
            throw error
        }
    }

    /// The discovery document, then the key set it names.
    private func fetchKeys() async throws -> KeySet {
        var issuer = self.settings.issuer
        while issuer.hasSuffix("/") { issuer.removeLast() }
        let discovery = try await self.fetchJSON(issuer + "/.well-known/openid-configuration", what: "discovery document")
        guard discovery["issuer"]?.stringValue == self.settings.issuer else {
            throw MLDeployError(
                code: .invalidConfiguration,
                message: "The discovery document at \(issuer)/.well-known/openid-configuration names the issuer '\(discovery["issuer"]?.stringValue ?? "")', not '\(self.settings.issuer)' (server.oidc.issuer must be spelled as the provider spells it)."
            )
        }
        guard let jwksURI = discovery["jwks_uri"]?.stringValue else {
            throw MLDeployError(code: .unreachable, message: "The OIDC discovery document of \(self.settings.issuer) has no jwks_uri.")
        }
        let jwks = try await self.fetchJSON(jwksURI, what: "key set")
        let collection = JWTKeyCollection()
        do {
            try await collection.add(jwksJSON: String(decoding: try jwks.serializedBytes(), as: UTF8.self))
        } catch {
            throw MLDeployError(code: .unreachable, message: "The key set at \(jwksURI) could not be read: \(error).")
        }
        let ids = Set((jwks["keys"]?.arrayValue ?? []).compactMap { $0["kid"]?.stringValue })
        self.logger.info("fetched the OIDC provider's keys", metadata: ["issuer": "\(self.settings.issuer)", "keys": "\(ids.sorted().joined(separator: ","))"])
        return KeySet(collection: collection, ids: ids, fetched: .now)
    }

    private func fetchJSON(_ url: String, what: String) async throws -> JSONValue {
        let response: HTTPResponse
        do {
            response = try await self.http.send(try HTTPRequest(.get, url, headers: ["Accept": "application/json"]))
        } catch let error as MLDeployError {
            throw MLDeployError(code: .unreachable, message: "The OIDC provider's \(what) (\(url)) could not be fetched: \(error.message)")
        }
        guard response.isSuccess, let json = try? JSONValue(parsing: response.bytes) else {
            throw MLDeployError(code: .unreachable, message: "The OIDC provider's \(what) (\(url)) answered \(response.status), not JSON.")
        }
        return json
    }

    /// A base64url segment's JSON, unverified.
    private static func json(_ segment: Substring) -> JSONValue? {
        Base64URL.decode(String(segment)).flatMap { try? JSONValue(parsing: $0) }
    }

    /// Why jwt-kit refused a token, in words a caller can act on.
    private static func describe(_ error: JWTError) -> String {
        switch error.errorType {
        case .signatureVerificationFailed: "its signature does not verify with the provider's keys"
        case .unknownKID: "it is signed with a key the provider does not publish (kid \(error.kid?.string ?? "?"))"
        case .missingKIDHeader: "its header names no key (kid)"
        case .claimVerificationFailure: "\(error.failedClaim.map { "\(type(of: $0))" } ?? "a claim") does not hold: \(error.reason ?? "")"
        case .malformedToken: "it is malformed (\(error.reason ?? ""))"
        default: "\(error)"
        }
    }
}

/// The registered claims this server checks.
struct OIDCClaims: JWTPayload {
    var iss: IssuerClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var aud: AudienceClaim?

    /// Nothing here: the checks need the server's settings, and run after the signature's.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    fileprivate var seconds: TimeInterval {
        TimeInterval(self.components.seconds) + TimeInterval(self.components.attoseconds) / 1e18
    }
}
