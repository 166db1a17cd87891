import Foundation
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// RFC 3986's unreserved characters, the only ones a path component keeps as they are.
    private static let unreserved: CharacterSet = {
        var set = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        set.insert(charactersIn: "-._~")
        return set
    }()

    /// A path component, percent-encoded (names are validated, but versions may hold any character).
    /// Plain names and versions — the usual case, three per consume — skip Foundation's encoder.
    static func component(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        }
        return plain ? text : (text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text)
    }

    /// `/services/{name}[/{version}]`-style paths from raw components.
    static func path(_ components: String...) -> String {
        "/" + components.map(Self.component).joined(separator: "/")
    }

    /// Sends one request to the server and returns the response when it is a 2xx; any other status
    /// becomes an ``MLDeploy/MLDeployError`` with the status, the server's message and the body.
    ///
    /// Requests carry the headers the Python SDK sends (`Accept: application/json`, a JSON content
    /// type unless the body is something else).
    ///
    /// - Parameters:
    ///   - idempotent: Whether the retry middleware may send it again after a dropped connection or
    ///     a 503 (reads, deletes and PATCHes are; creating a session is not).
    @discardableResult
    func send(
        _ method: HTTPMethod,
        _ path: String,
        query: String? = nil,
        json: JSONValue? = nil,
        body: HTTPBody? = nil,
        contentType: String? = nil,
        idempotent: Bool? = nil,
        consume: Bool = false
    ) async throws -> HTTPResponse {
        let http = try self.state.http
        var headers: HTTPHeaders = ["Accept": "application/json"]
        headers.add("Content-Type", contentType ?? "application/json")
        let payload: HTTPBody? = try json.map { .bytes(try $0.serializedBytes()) } ?? body
        var request = try HTTPRequest(method, self.baseURL + path + (query.map { "?" + $0 } ?? ""), headers: headers, body: payload)
        if let idempotent { request.options.idempotent = idempotent }
        if consume { request.options.kind = .consume }
        let response = try await http.send(request)
        guard response.isSuccess else { throw Self.failure(method, path, response, baseURL: self.baseURL) }
        return response
    }

    /// The JSON of a 2xx response.
    func sendJSON(
        _ method: HTTPMethod,
        _ path: String,
        query: String? = nil,
        json: JSONValue? = nil,
        idempotent: Bool? = nil,
        consume: Bool = false
    ) async throws -> JSONValue {
        let response = try await self.send(method, path, query: query, json: json, idempotent: idempotent, consume: consume)
        do {
            return try JSONValue(parsing: response.bytes)
        } catch {
            throw MLDeployError.foreignAnswer(to: "\(method.rawValue) \(self.baseURL)\(path)", response, expected: Self.expectedServer)
        }
    }

    /// The framework error for a non-2xx answer: 401 authentication, 403 permission, 404 not found,
    /// 400 and 409 validation (invalid argument, conflict), 413 too large, other statuses a backend
    /// failure — each with the server's message (`{"message": …}` when the body has one).
    /// Error codes a server may name in `exceptionType` that mean the same on this side.
    static let roundTrippedCodes: Set<MLDeployError.Code> = [
        .invalidName, .invalidVersion, .missingVersion, .invalidArgument, .unknownParameterType, .inputMismatch, .outputMismatch,
        .invalidValue, .notFound, .conflict, .unsupported, .pythonRuntimeUnavailable, .workerCrashed, .serviceLoadFailed, .timeout,
        .permissionDenied, .authenticationFailed, .invalidArtifact, .overloaded,
    ]

    /// What this backend talks to, for messages about answers from something else.
    static let expectedServer = "an ML Server or mldeploy serve"

    static func failure(_ method: HTTPMethod, _ path: String, _ response: HTTPResponse, baseURL: String = "") -> MLDeployError {
        let json = try? JSONValue(parsing: response.bytes)
        // ML Server answers errors in JSON. A page of HTML or text at the target's address means it
        // is something else (a web server, a misrouted proxy) — except a gateway's 502/503/504,
        // which a proxy in front of a real server answers when that server is down or slow.
        if json == nil, !response.bytes.isEmpty, ![502, 503, 504].contains(response.status) {
            return MLDeployError.foreignAnswer(to: "\(method.rawValue) \(baseURL)\(path)", response, expected: Self.expectedServer)
        }
        let serverMessage = json?["message"]?.stringValue ?? json?["Message"]?.stringValue ?? response.excerpt()
        let byStatus: MLDeployError.Code
        switch response.status {
        case 401: byStatus = .authenticationFailed
        case 403: byStatus = .permissionDenied
        case 404: byStatus = .notFound
        case 409: byStatus = .conflict
        case 400, 413, 415, 422: byStatus = .invalidArgument
        case 504: byStatus = .timeout
        default: byStatus = .backendFailure
        }
        // `mldeploy serve` names the framework's error code in `exceptionType`; adopting it keeps the
        // exact kind of failure across the wire. (ML Server's .NET exception names are not codes.)
        let named = json?["exceptionType"]?.stringValue.map(MLDeployError.Code.init)
        let code = named.flatMap { Self.roundTrippedCodes.contains($0) ? $0 : nil } ?? byStatus
        let detail = serverMessage.isEmpty ? "" : ": \(serverMessage)"
        return MLDeployError(
            code: code,
            message: "\(method.rawValue) \(path) failed with HTTP \(response.status)\(detail)",
            httpStatus: response.status,
            responseBody: response.text
        )
    }
}
