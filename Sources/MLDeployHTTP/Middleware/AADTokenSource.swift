import Foundation
import MLDeploy

/// Tokens from Azure Active Directory's OAuth 2.0 token endpoint (the v1 endpoint ADAL uses, which
/// the Python SDK's AAD authentication goes through): the client-credentials grant when
/// the options carry a client secret, the resource-owner password grant when they carry a username
/// and password. An expired token is replaced with the refresh token AAD issued, when there is one,
/// falling back to a new grant.
///
/// The request is `POST {authority}/{tenant}/oauth2/token` with a form body
/// (`grant_type`, `client_id`, `resource`, and `client_secret` or `username`/`password`); the answer
/// is the usual `{"access_token", "expires_in" | "expires_on", "refresh_token"?}`.
///
/// The Python SDK's interactive device-code flow (no secret, no password) needs a person at a
/// terminal; it is not offered: use a client secret, a password, or an access token.
public struct AADTokenSource: TokenSource {
    /// The AAD options.
    public let options: AADOptions

    /// A source for `options`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` when a required option is empty,
    ///   or there is neither a client secret nor a username and password.
    public init(options: AADOptions) throws {
        for (key, value) in [("authority", options.authority), ("tenant", options.tenant), ("clientID", options.clientID), ("resource", options.resource)] where value.isEmpty {
            throw MLDeployError.invalidArgument("AAD authentication needs '\(key)'.")
        }
        guard URL(string: options.authority)?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) == true else {
            throw MLDeployError.invalidArgument("The AAD authority must be an http(s) URL, e.g. https://login.windows.net, not '\(options.authority)'.")
        }
        guard options.clientSecret != nil || (options.username != nil && options.password != nil) else {
            throw MLDeployError.invalidArgument(
                "AAD authentication needs a client secret (client-credentials grant) or a username and password; the interactive device-code flow is not supported."
            )
        }
        self.options = options
    }

    /// The token endpoint: `{authority}/{tenant}/oauth2/token`.
    public var tokenURL: URL {
        var authority = self.options.authority
        while authority.hasSuffix("/") { authority.removeLast() }
        return URL(string: "\(authority)/\(self.options.tenant)/oauth2/token")!
    }

    /// A new token from a grant, or a refreshed one.
    public func token(replacing expired: AccessToken?, transport: TokenTransport) async throws -> AccessToken {
        if let refreshToken = expired?.refreshToken {
            let response = try await transport.send(try self.request(["grant_type": "refresh_token", "refresh_token": refreshToken]))
            if response.isSuccess { return try AccessToken(accessTokenResponse: try JSONValue(parsing: response.bytes)) }
            // A refused refresh token falls back to a new grant below.
        }
        let grant: [(String, String)]
        if let secret = self.options.clientSecret {
            grant = [("grant_type", "client_credentials"), ("client_secret", secret)]
        } else {
            grant = [("grant_type", "password"), ("username", self.options.username ?? ""), ("password", self.options.password ?? "")]
        }
        let response = try await transport.send(try self.request(Dictionary(uniqueKeysWithValues: grant)))
        guard response.isSuccess else {
            let json = try? JSONValue(parsing: response.bytes)
            let detail = json?["error_description"]?.stringValue ?? json?["error"]?.stringValue ?? response.text
            throw MLDeployError(
                code: .authenticationFailed,
                message: "AAD refused the token request (HTTP \(response.status))\(detail.isEmpty ? "" : ": \(detail)")",
                httpStatus: response.status,
                responseBody: response.text
            )
        }
        return try AccessToken(accessTokenResponse: try JSONValue(parsing: response.bytes))
    }

    private func request(_ fields: [String: String]) throws -> HTTPRequest {
        var all = fields
        all["client_id"] = self.options.clientID
        all["resource"] = self.options.resource
        // ASCII letters and digits only: `CharacterSet.alphanumerics` would let non-ASCII letters through unencoded.
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        let form = all.sorted { $0.key < $1.key }.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        var request = try HTTPRequest(
            .post, self.tokenURL,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: .string(form)
        )
        request.options.idempotent = true  // asking for a token twice is harmless
        return request
    }
}
