import Foundation
import MLDeploy

/// An HTTP request, and the options that say how the client should treat it.
public struct HTTPRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The absolute `http` or `https` URL.
    public var url: URL
    /// The header fields. The client adds its default headers and `User-Agent` where absent.
    public var headers: HTTPHeaders
    /// The body, if any.
    public var body: HTTPBody?
    /// How the client treats this request.
    public var options: Options

    /// How the client treats one request.
    public struct Options: Sendable {
        /// Which defaults apply: control-plane calls and consume calls have separate timeouts and
        /// retry policies.
        public var kind: RequestKind = .controlPlane
        /// Whether repeating the request is safe. `nil` derives it from the method
        /// (``HTTPMethod/isIdempotent``); set `true` for a POST that is safe to repeat.
        public var idempotent: Bool?
        /// Overrides the client's whole-request timeout for this request.
        public var timeout: TimeoutOverride = .default
        /// A name for the operation, used in logs and metrics (e.g. `"consume"`).
        public var operationID: String?
        /// Whether to attach credentials (the auth middleware skips requests with `false`, such as a login).
        public var authenticate = true

        /// Default options.
        public init() {}
    }

    /// Creates a request.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidRequest`` if `url` is not an absolute `http`/`https` URL.
    public init(_ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: HTTPBody? = nil, options: Options = Options()) throws {
        guard let parsed = URL(string: url) else {
            throw MLDeployError(code: .invalidRequest, message: "Malformed URL \(url.debugDescription).")
        }
        try self.init(method, parsed, headers: headers, body: body, options: options)
    }

    /// Creates a request.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidRequest`` if `url` is not an absolute `http`/`https` URL.
    public init(_ method: HTTPMethod, _ url: URL, headers: HTTPHeaders = [:], body: HTTPBody? = nil, options: Options = Options()) throws {
        try Self.check(url)
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.options = options
    }

    static func check(_ url: URL) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw MLDeployError(
                code: .invalidRequest,
                message: "Unsupported URL scheme in \(url.absoluteString.debugDescription): only http and https are allowed."
            )
        }
        guard let host = url.host, !host.isEmpty else {
            throw MLDeployError(code: .invalidRequest, message: "The URL \(url.absoluteString.debugDescription) has no host.")
        }
    }

    /// Whether the retry middleware may send the request again after it reached the server.
    public var isIdempotent: Bool {
        self.options.idempotent ?? self.method.isIdempotent
    }

    /// Whether the body can be sent again (none, or bytes in memory).
    public var isReplayable: Bool {
        self.body.map { $0.iterationBehavior == .multiple } ?? true
    }
}

/// Control-plane calls (publish, list, delete) and consume calls (a service's own work) get separate
/// timeouts and retry policies: the second can be slow for good reasons, and must not be retried on
/// a gateway timeout.
public enum RequestKind: Sendable, Hashable {
    /// Managing services.
    case controlPlane
    /// Calling a service.
    case consume
}

/// A per-request timeout: the client's default, no limit, or a limit of its own.
public enum TimeoutOverride: Sendable, Hashable {
    /// The client's timeout for the request's kind.
    case `default`
    /// No whole-request limit (the connect timeout still applies).
    case none
    /// This limit.
    case limit(Duration)
}

/// The HTTP version a response came over.
public enum HTTPVersion: Sendable, Hashable {
    /// HTTP/1.0 or HTTP/1.1.
    case http1
    /// HTTP/2.
    case http2
    /// HTTP/3.
    case http3
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields of the final response (after redirects).
    public var headers: HTTPHeaders
    /// The body: bytes for ``HTTPClient/send(_:)``, a stream for ``HTTPClient/stream(_:)``.
    public var body: HTTPBody
    /// The HTTP version it came over, when known.
    public var version: HTTPVersion?

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders = [:], body: HTTPBody = .bytes([]), version: HTTPVersion? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.version = version
    }

    /// The body bytes, when the body is in memory (responses from ``HTTPClient/send(_:)``).
    public var bytes: [UInt8] { self.body.bufferedBytes ?? [] }

    /// The body as UTF-8 text, when in memory.
    public var text: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(self.status) }
}
