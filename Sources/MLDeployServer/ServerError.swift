import Foundation
import Hummingbird
import MLDeploy

/// An error the server answers with: an HTTP status and the ML Server error body
/// `{"message", "link", "exceptionType"}` — never a stack trace or a secret.
public struct ServerError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// What went wrong and what to do, for the caller.
    public let message: String
    /// A stable name of the kind of failure (`NotFound`, `Conflict`, …); for MLDeploy errors, the
    /// error's code.
    public let exceptionType: String
    /// What the server's log gets and the caller does not: the storage failure behind a generic
    /// message (it names files of the server).
    let detail: String?

    /// Creates an error response.
    public init(_ status: HTTPResponse.Status, _ message: String, exceptionType: String? = nil) {
        self.init(status, message, exceptionType: exceptionType, detail: nil)
    }

    private init(_ status: HTTPResponse.Status, _ message: String, exceptionType: String?, detail: String?) {
        self.status = status
        self.message = message
        self.exceptionType = exceptionType ?? status.reasonPhrase.replacingOccurrences(of: " ", with: "")
        self.detail = detail
    }

    /// The response for an ``MLDeploy/MLDeployError``: its code picks the status (bad input 400,
    /// unknown service 404, existing version 409, unsupported 400, failures of the service's runtime
    /// 500, storage and an unreachable store or backend 503 with `Retry-After`) and becomes the `exceptionType`. A storage failure's message names the
    /// server's files, so the caller gets a generic one and the server's log the details.
    public init(_ error: MLDeployError) {
        switch error.code {
        case .overloaded:
            self.init(.serviceUnavailable, error.message, exceptionType: error.code.rawValue, detail: nil)
            self.retryAfter = 1
        case .quotaExceeded:
            self.init(.tooManyRequests, error.message, exceptionType: error.code.rawValue, detail: nil)
            self.retryAfter = 1
        case .unreachable:
            // The server's database (or the backend it fronts) is down: a client should retry.
            self.init(
                .serviceUnavailable, "The server cannot reach its store or backend just now; its log has the details. Try again shortly.",
                exceptionType: error.code.rawValue, detail: error.message
            )
            self.retryAfter = 5
        case .storageFailure, .incompatibleStore:
            self.init(
                Self.status(for: error.code), "The server could not read or write its store; its log has the details. Try again later.",
                exceptionType: error.code.rawValue, detail: error.message
            )
        default:
            self.init(Self.status(for: error.code), error.message, exceptionType: error.code.rawValue, detail: nil)
        }
    }

    static func status(for code: MLDeployError.Code) -> HTTPResponse.Status {
        switch code {
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .authenticationFailed: return .unauthorized
        case .permissionDenied: return .forbidden
        case .invalidName, .invalidVersion, .missingVersion, .invalidArgument, .unknownParameterType, .inputMismatch,
            .invalidValue, .invalidJSON, .invalidArtifact, .unsupported:
            return .badRequest
        case .timeout: return .gatewayTimeout
        case .storageFailure, .clientShutDown, .unreachable: return .serviceUnavailable
        case .responseTooLarge: return .contentTooLarge
        default: return .internalServerError
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), for 503 and 429 answers.
    var retryAfter: Int?

    /// The methods a path takes (`Allow`), for 405 answers.
    var allow: [String]?

    /// Whether the connection closes after this answer (`Connection: close`): a body the server
    /// refuses to read would otherwise have to be read to its end before the next request.
    var closesConnection = false

    /// An error that asks the caller to try again after `seconds` (`Retry-After`).
    static func retryAfter(_ status: HTTPResponse.Status, _ message: String, seconds: Int, exceptionType: String? = nil) -> ServerError {
        var error = ServerError(status, message, exceptionType: exceptionType)
        error.retryAfter = seconds
        return error
    }

    /// The JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: JSONValue = ["message": .string(self.message), "link": .null, "exceptionType": .string(self.exceptionType)]
        var response = try Response.json(body, status: self.status)
        if let seconds = self.retryAfter { response.headers[.retryAfter] = String(seconds) }
        if let methods = self.allow { response.headers[.allow] = methods.joined(separator: ", ") }
        if self.closesConnection { response.headers[.connection] = "close" }
        return response
    }

    /// `status: message`.
    public var description: String { "\(self.status.code) \(self.exceptionType): \(self.message)" }
}
