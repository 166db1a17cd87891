import Foundation
import MLDeploy

/// Tokens from ML Server's login endpoints: `POST /login` with a username and password,
/// then `POST /login/refreshToken` with the refresh token when the access token expires. When the
/// server refuses the refresh token (it expired after 14 days, or was revoked), it logs in again with
/// the stored credentials.
public struct LoginTokenSource: TokenSource {
    /// The server's base URL, e.g. `http://localhost:12800`.
    public let baseURL: URL
    /// The username.
    public let username: String
    private let password: String

    /// Creates a source for the server at `baseURL`.
    public init(baseURL: URL, username: String, password: String) {
        self.baseURL = baseURL
        self.username = username
        self.password = password
    }

    /// Logs in, or refreshes `expired` (falling back to logging in).
    public func token(replacing expired: AccessToken?, transport: TokenTransport) async throws -> AccessToken {
        if let refreshToken = expired?.refreshToken {
            let body: JSONValue = ["refreshToken": .string(refreshToken)]
            let response = try await transport.send(try self.request("login/refreshToken", body))
            if response.isSuccess {
                return try AccessToken(accessTokenResponse: try JSONValue(parsing: response.bytes))
            }
            guard [400, 401, 403].contains(response.status) else {
                throw Self.failure("Refreshing the access token failed", response)
            }
            // The refresh token was refused: log in again below.
        }
        let body: JSONValue = ["username": .string(self.username), "password": .string(self.password)]
        let response = try await transport.send(try self.request("login", body))
        guard response.isSuccess else {
            throw Self.failure("Logging in as '\(self.username)' failed", response)
        }
        return try AccessToken(accessTokenResponse: try JSONValue(parsing: response.bytes))
    }

    private func request(_ path: String, _ body: JSONValue) throws -> HTTPRequest {
        var request = try HTTPRequest(
            .post,
            self.baseURL.appendingPathComponent(path),
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: .bytes(try body.serializedBytes())
        )
        // Logging in twice is harmless, so a dropped connection may be retried.
        request.options.idempotent = true
        return request
    }

    private static func failure(_ what: String, _ response: HTTPResponse) -> MLDeployError {
        let message = (try? JSONValue(parsing: response.bytes))?["message"]?.stringValue ?? response.text
        return MLDeployError(
            code: .authenticationFailed,
            message: "\(what): HTTP \(response.status)\(message.isEmpty ? "" : " — \(message)"). Check the credentials.",
            httpStatus: response.status,
            responseBody: response.text
        )
    }
}
