import Foundation
import MLDeploy
import MLDeployHTTP

extension OIPBackend {
    /// A path component, percent-encoded.
    static func component(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `/v2/models/{name}[/versions/{version}]`.
    static func modelPath(_ name: String, _ version: String?) -> String {
        "/v2/models/" + Self.component(name) + (version.map { "/versions/" + Self.component($0) } ?? "")
    }

    /// Sends a request; a non-2xx answer becomes the framework's error with the server's message
    /// (OIP's `{"error"}`, or MLServer's `{"detail"}`).
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers extra: HTTPHeaders = [:], consume: Bool = false) async throws -> HTTPResponse {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if body != nil, extra["Content-Type"] == nil { headers.add("Content-Type", "application/json") }
        for field in extra { headers.add(field.name, field.value) }
        var request = try HTTPRequest(method, self.baseURL + path, headers: headers, body: body.map { .bytes($0) })
        if consume { request.options.kind = .consume }
        let response = try await self.http.send(request)
        guard response.isSuccess else { throw Self.failure(method, path, response) }
        return response
    }

    /// The JSON of a 2xx answer.
    func json(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let response = try await self.send(method, path, body: try body?.serializedBytes())
        guard let json = try? JSONValue(parsing: response.bytes) else {
            throw MLDeployError(code: .backendFailure, message: "\(method.rawValue) \(self.baseURL)\(path) did not answer JSON: \(response.excerpt())")
        }
        return json
    }

    static func failure(_ method: HTTPMethod, _ path: String, _ response: HTTPResponse) -> MLDeployError {
        let json = try? JSONValue(parsing: response.bytes)
        let message = json?["error"]?.stringValue ?? json?["detail"]?.stringValue ?? json?["message"]?.stringValue ?? response.excerpt()
        let code: MLDeployError.Code = switch response.status {
        case 401: .authenticationFailed
        case 403: .permissionDenied
        case 404: .notFound
        case 400, 422: .invalidArgument
        case 504: .timeout
        default: .backendFailure
        }
        return MLDeployError(code: code, message: "\(method.rawValue) \(path): \(response.status) \(message)")
    }
}
