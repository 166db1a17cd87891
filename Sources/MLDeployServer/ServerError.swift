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

    /// Creates an error response.
    public init(_ status: HTTPResponse.Status, _ message: String, exceptionType: String? = nil) {
        self.status = status
        self.message = message
        self.exceptionType = exceptionType ?? status.reasonPhrase.replacingOccurrences(of: " ", with: "")
    }

    /// The response for an ``MLDeploy/MLDeployError``: its code picks the status (bad input 400,
    /// unknown service 404, existing version 409, unsupported 400, failures of the service's runtime
    /// 500, storage 503) and becomes the `exceptionType`.
    public init(_ error: MLDeployError) {
        self.init(Self.status(for: error.code), error.message, exceptionType: error.code.rawValue)
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
        case .storageFailure, .clientShutDown: return .serviceUnavailable
        case .responseTooLarge: return .contentTooLarge
        default: return .internalServerError
        }
    }

    /// The JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: JSONValue = ["message": .string(self.message), "link": .null, "exceptionType": .string(self.exceptionType)]
        return try Response.json(body, status: self.status)
    }

    /// `status: message`.
    public var description: String { "\(self.status.code) \(self.exceptionType): \(self.message)" }
}
