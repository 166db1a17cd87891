import Foundation
import HTTPTypes
import MLDeploy
import MLDeployHTTP
import OpenAPIRuntime

/// A swift-openapi-runtime `ClientTransport` over MLDeploy's libcurl ``MLDeployHTTP/HTTPClient``,
/// so clients swift-openapi-generator makes from a service's OpenAPI document (`mldeploy openapi`,
/// `GET /api/{name}/{version}/openapi.json`) get the framework's transport: token sources and
/// refresh (``MLDeployHTTP/HTTPClient/authentication``), retries, proxies, TLS settings, timeouts
/// and its middleware.
///
/// ```swift
/// let http = HTTPClient()
/// http.authentication.use(LoginTokenSource(baseURL: server, username: "admin", password: password))
/// let client = Client(serverURL: server, transport: MLDeployClientTransport(client: http))
/// let answer = try await client.consume(body: .json(.init(hp: 120, wt: 2.8)))
/// ```
///
/// Bodies are buffered both ways (service calls are JSON documents); a request body larger than
/// ``maximumRequestBodySize`` is refused before anything is sent.
public struct MLDeployClientTransport: ClientTransport {
    /// The HTTP client requests go through.
    public let client: MLDeployHTTP.HTTPClient
    /// The largest request body sent (bytes).
    public var maximumRequestBodySize: Int

    /// A transport over `client` (its configuration and middleware apply to every request).
    public init(client: MLDeployHTTP.HTTPClient, maximumRequestBodySize: Int = 1 << 30) {
        self.client = client
        self.maximumRequestBodySize = maximumRequestBodySize
    }

    /// Sends one request of a generated client: `baseURL` (the document's server, or the one the
    /// client was made with) joined with the request's path and query.
    public func send(_ request: HTTPTypes.HTTPRequest, body: OpenAPIRuntime.HTTPBody?, baseURL: URL, operationID: String) async throws -> (HTTPTypes.HTTPResponse, OpenAPIRuntime.HTTPBody?) {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var headers = MLDeployHTTP.HTTPHeaders()
        for field in request.headerFields { headers.add(field.name.rawName, field.value) }
        let bytes: [UInt8]?
        if let body {
            bytes = try await [UInt8](collecting: body, upTo: self.maximumRequestBodySize)
        } else {
            bytes = nil
        }
        let outgoing = try MLDeployHTTP.HTTPRequest(
            MLDeployHTTP.HTTPMethod(rawValue: request.method.rawValue), base + (request.path ?? "/"), headers: headers, body: bytes.map { .bytes($0) }
        )
        let response = try await self.client.send(outgoing)
        var fields = HTTPFields()
        for field in response.headers {
            if let name = HTTPField.Name(field.name) { fields.append(HTTPField(name: name, value: field.value)) }
        }
        let answer = HTTPTypes.HTTPResponse(status: .init(code: response.status), headerFields: fields)
        return (answer, response.bytes.isEmpty ? nil : OpenAPIRuntime.HTTPBody(response.bytes))
    }
}
