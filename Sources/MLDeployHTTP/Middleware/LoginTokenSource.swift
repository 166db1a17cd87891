import Foundation
import MLDeploy

/// Tokens from ML Server's login endpoints: `POST /login` with a username and password,
/// then `POST /login/refreshToken` with the refresh token when the access token expires. When the
/// server refuses the refresh token (it expired after 14 days, or was revoked), it logs in again with
/// the stored credentials.
///
/// Without a password it only refreshes: a session resumed from a cache (``HTTPAuthentication/use(_:initial:)``)
/// lives as long as its refresh token, then fails asking for a new login.
public struct LoginTokenSource: TokenSource {
    /// The server's base URL, e.g. `http://localhost:12800`.
    public let baseURL: URL
    /// The username.
    public let username: String
    private let password: String?

    /// Creates a source for the server at `baseURL`; `password` `nil` for one that only refreshes.
    public init(baseURL: URL, username: String, password: String?) {
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
                throw self.failure("Refreshing the access token failed", path: "login/refreshToken", response)
            }
            // The refresh token was refused: log in again below.
        }
        guard let password = self.password else {
            throw MLDeployError(
                code: .authenticationFailed,
                message: "The session of '\(self.username)' at \(self.baseURL.absoluteString) has expired and no password is configured. Log in again."
            )
        }
        let body: JSONValue = ["username": .string(self.username), "password": .string(password)]
        let response = try await transport.send(try self.request("login", body))
        guard response.isSuccess else {
            throw self.failure("Logging in as '\(self.username)' failed", path: "login", response)
        }
        guard let answer = try? JSONValue(parsing: response.bytes) else {
            throw MLDeployError.foreignAnswer(to: "POST \(self.url("login"))", response, expected: Self.expectedServer)
        }
        return try AccessToken(accessTokenResponse: answer)
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

    /// What the login endpoints belong to, for messages about answers from something else.
    static let expectedServer = "an ML Server or mldeploy serve"

    /// `path` under the base URL, for messages.
    private func url(_ path: String) -> String {
        self.baseURL.appendingPathComponent(path).absoluteString
    }

    /// A refused login (401, 403, or 400 for bad credentials) is an authentication failure; any
    /// other status is the server's failure, not the credentials'; an answer that is not ML
    /// Server's JSON says the address is wrong.
    private func failure(_ what: String, path: String, _ response: HTTPResponse) -> MLDeployError {
        guard !response.bytes.isEmpty else {
            return MLDeployError(
                code: [400, 401, 403].contains(response.status) ? .authenticationFailed : .backendFailure,
                message: "\(what): HTTP \(response.status) from POST \(self.url(path)).",
                httpStatus: response.status
            )
        }
        guard let json = try? JSONValue(parsing: response.bytes) else {
            return MLDeployError.foreignAnswer(to: "POST \(self.url(path))", response, expected: Self.expectedServer)
        }
        let message = (json["message"]?.stringValue ?? json["Message"]?.stringValue ?? response.excerpt()).trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = message.isEmpty ? "" : ": " + (message.hasSuffix(".") ? String(message.dropLast()) : message)
        let refused = [400, 401, 403].contains(response.status)
        return MLDeployError(
            code: refused ? .authenticationFailed : .backendFailure,
            message: "\(what) (HTTP \(response.status))\(detail). \(refused ? "Check the user name and password." : "The server failed; try again, or see its log.")",
            httpStatus: response.status,
            responseBody: response.text
        )
    }
}
