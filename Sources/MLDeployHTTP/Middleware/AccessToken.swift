import Foundation
import MLDeploy

/// A bearer token, when it expires, and the refresh token that can replace it.
public struct AccessToken: Sendable, Hashable, CustomStringConvertible {
    /// The token sent in `Authorization`. Never logged.
    public var value: String
    /// When it stops being accepted, if known.
    public var expiresAt: Date?
    /// A token that can be exchanged for a new access token, if the server issued one. Never logged.
    public var refreshToken: String?
    /// When the token was obtained.
    public var obtainedAt: Date

    /// Creates a token.
    public init(value: String, expiresAt: Date? = nil, refreshToken: String? = nil, obtainedAt: Date = Date()) {
        self.value = value
        self.expiresAt = expiresAt
        self.refreshToken = refreshToken
        self.obtainedAt = obtainedAt
    }

    /// Whether the token should be replaced before use: it expires within `margin` of `now` — or,
    /// for a token that lives shorter than twice the margin, within half its lifetime, so short-lived
    /// tokens are not refreshed on every request.
    public func needsRefresh(margin: Duration, now: Date = Date()) -> Bool {
        guard let expiresAt else { return false }
        let (seconds, attoseconds) = margin.components
        let configured = Double(seconds) + Double(attoseconds) / 1e18
        let lifetime = expiresAt.timeIntervalSince(self.obtainedAt)
        return expiresAt.timeIntervalSince(now) <= min(configured, max(0, lifetime) / 2)
    }

    /// The expiry only — the token itself is never printed.
    public var description: String {
        "AccessToken(expires: \(self.expiresAt.map { "\($0)" } ?? "never"), refreshable: \(self.refreshToken != nil))"
    }

    /// Reads ML Server's `AccessTokenResponse`: `access_token`, `refresh_token`, and the
    /// expiry as `expires_on` (epoch seconds) or `expires_in` (seconds from now), each as a number or
    /// a numeric string.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidResponse`` if there is no `access_token`.
    public init(accessTokenResponse json: JSONValue, now: Date = Date()) throws {
        guard let value = json["access_token"]?.stringValue, !value.isEmpty else {
            throw MLDeployError(code: .invalidResponse, message: "The login response has no access_token.")
        }
        func seconds(_ key: String) -> Double? {
            switch json[key] {
            case .integer(let number)?: return Double(number)
            case .double(let number)?: return number
            case .string(let text)?: return Double(text)
            default: return nil
            }
        }
        let expiresAt: Date?
        if let on = seconds("expires_on") {
            expiresAt = Date(timeIntervalSince1970: on)
        } else if let interval = seconds("expires_in") {
            expiresAt = now.addingTimeInterval(interval)
        } else {
            expiresAt = nil
        }
        self.init(value: value, expiresAt: expiresAt, refreshToken: json["refresh_token"]?.stringValue, obtainedAt: now)
    }
}

/// Where the authentication step gets tokens from: first, and again when one expires or is refused.
///
/// Implement it for an identity provider of your own; ``StaticTokenSource`` and
/// ``LoginTokenSource`` cover the ML Server cases.
public protocol TokenSource: Sendable {
    /// A token: the first one when `expired` is `nil`, otherwise a replacement for `expired` (which
    /// has passed its expiry or was refused with a 401).
    ///
    /// - Parameters:
    ///   - expired: The token to replace, if any.
    ///   - transport: Sends requests without authentication (through retry, logging and the transport).
    /// - Throws: Why no token can be had; the client reports it as
    ///   ``MLDeploy/MLDeployError/Code/authenticationFailed``.
    func token(replacing expired: AccessToken?, transport: TokenTransport) async throws -> AccessToken
}

/// Sends a token source's own requests (a login) through the client, without authentication.
public struct TokenTransport: Sendable {
    let sender: @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// Creates a transport from a sender.
    public init(_ sender: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        self.sender = sender
    }

    /// Sends `request` without an `Authorization` header of the client's.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        request.options.authenticate = false
        return try await self.sender(request)
    }
}

/// A fixed token, such as one the caller obtained elsewhere. It cannot be refreshed: when the server
/// refuses it, requests fail with ``MLDeploy/MLDeployError/Code/authenticationFailed``.
public struct StaticTokenSource: TokenSource {
    /// The token.
    public let token: AccessToken

    /// A source that always gives `token`.
    public init(_ token: String) {
        self.token = AccessToken(value: token)
    }

    /// The token, or an error once it has been refused.
    public func token(replacing expired: AccessToken?, transport: TokenTransport) async throws -> AccessToken {
        guard expired == nil else {
            throw MLDeployError(
                code: .authenticationFailed,
                message: "The server refused the access token, and a fixed token cannot be refreshed. Supply a new token, or authenticate with a username and password."
            )
        }
        return self.token
    }
}
