import Foundation

extension HTTPClient {
    /// Everything about how an ``HTTPClient`` talks to servers, as nested values.
    ///
    /// ```swift
    /// var configuration = HTTPClient.Configuration()
    /// configuration.timeout = .init(connect: .seconds(5), controlPlane: .seconds(60), consume: .none)
    /// configuration.tls.caBundle = "/etc/ssl/corp-ca.pem"
    /// configuration.proxy = .explicit("http://user:secret@proxy.corp:3128", noProxy: ["localhost", ".corp"])
    /// configuration.retry.consume = .disabled
    /// ```
    public struct Configuration: Sendable {
        /// Connect and whole-request limits.
        public var timeout = Timeout()
        /// Certificate verification and client certificates.
        public var tls = TLS()
        /// The forward proxy; by default read from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`.
        public var proxy = Proxy.environment
        /// Whether and how far redirects are followed. Default: up to 5.
        public var redirects = RedirectPolicy.follow(maximum: 5)
        /// Retry policies for control-plane and consume calls.
        public var retry = RetryConfiguration()
        /// Bearer-token handling.
        public var authentication = AuthenticationSettings()
        /// The `User-Agent` sent when a request has none.
        public var userAgent = "mldeploy/\(HTTPClient.frameworkVersion)"
        /// Headers added to every request that does not set them itself.
        public var defaultHeaders: HTTPHeaders = [:]
        /// The largest response body ``HTTPClient/send(_:)`` reads into memory (default 64 MiB).
        /// Streamed responses (``HTTPClient/stream(_:)``) are not limited: their reader decides.
        public var maximumResponseSize = 64 * 1024 * 1024
        /// Whether to ask for compressed responses (gzip, deflate, br, zstd) and decompress them.
        public var decompression = true
        /// Which HTTP versions to use.
        public var httpVersion = HTTPVersionPreference.automatic
        /// How many connections the client keeps open for reuse (keep-alive), across all hosts.
        public var maximumConnections = 32
        /// How many connections the client opens to one host at once (`nil`: no limit). Requests
        /// beyond it wait for a connection to come free — their timeouts run while they wait — so an
        /// overloaded server sees a steady set of keep-alive connections rather than a storm of new
        /// ones (which, unbounded, exhausts ports and file descriptors on both sides). Requests
        /// multiplexed over one HTTP/2 connection count once.
        public var maximumConnectionsPerHost: Int? = 64
        /// How many bytes of a streamed body are buffered before reading from (or writing to) the
        /// network pauses until the other side catches up. Bounds memory for huge transfers.
        public var streamBufferSize = 1024 * 1024
        /// How many network threads drive libcurl, each with its own multi handle and connection
        /// cache (``maximumConnections`` and ``maximumConnectionsPerHost`` are shared out between
        /// them). A request stays on one thread from start to end, and the requests of one task go
        /// to the same thread, so a caller sending one request after another keeps finding its
        /// thread awake and its connection open; concurrent callers spread across the threads.
        /// Default: one per two cores, at most 4 (1 on a two-core machine, where the client shares
        /// the cores with what it calls or with other work). Measured there against nginx on
        /// loopback, a second loop gains nothing for one sequential caller, 1.09× for 16 concurrent
        /// callers on Swift's shared pool, and 1.5× for 16 callers that each run on a loop
        /// (``HTTPClient/withLoopExecutor(_:)`` in each task): set 2 for such a client.
        public var loopThreads = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount / 2))

        /// The defaults.
        public init() {}
    }

    /// Timeouts. `nil` means "no limit" — distinct from a request's ``TimeoutOverride/default``,
    /// which means "whatever the client is configured with".
    public struct Timeout: Sendable, Hashable {
        /// The limit on establishing a connection (TCP and TLS). Default 10 s.
        public var connect: Duration?
        /// The whole-request limit for control-plane calls (publish, list, delete). Default 300 s.
        public var controlPlane: Duration?
        /// The whole-request limit for consume calls. Default 120 s.
        public var consume: Duration?

        /// Creates timeouts.
        public init(connect: Duration? = .seconds(10), controlPlane: Duration? = .seconds(300), consume: Duration? = .seconds(120)) {
            self.connect = connect
            self.controlPlane = controlPlane
            self.consume = consume
        }

        /// The whole-request limit for a request, after its override.
        func limit(for kind: RequestKind, override: TimeoutOverride) -> Duration? {
            switch override {
            case .default: return kind == .consume ? self.consume : self.controlPlane
            case .none: return nil
            case .limit(let limit): return limit
            }
        }
    }

    /// TLS settings.
    public struct TLS: Sendable, Hashable {
        /// Whether to verify the server's certificate and host name. Default `true`.
        /// - Warning: turning this off makes HTTPS as unsafe as HTTP; use ``caBundle`` for private CAs.
        public var verify = true
        /// A PEM file of CA certificates to trust instead of the system's.
        public var caBundle: String?
        /// A directory of hashed CA certificates (`c_rehash`) to trust instead of the system's.
        public var caDirectory: String?
        /// A client certificate for servers that require one (mutual TLS).
        public var clientCertificate: ClientCertificate?
        /// The oldest TLS version accepted. Default: the library's (TLS 1.2 with this OpenSSL).
        public var minimumVersion: TLSVersion?

        /// The defaults: verify against the system's CAs.
        public init(verify: Bool = true, caBundle: String? = nil, caDirectory: String? = nil, clientCertificate: ClientCertificate? = nil, minimumVersion: TLSVersion? = nil) {
            self.verify = verify
            self.caBundle = caBundle
            self.caDirectory = caDirectory
            self.clientCertificate = clientCertificate
            self.minimumVersion = minimumVersion
        }
    }

    /// A client certificate and its private key, as files.
    public struct ClientCertificate: Sendable, Hashable {
        /// The certificate file.
        public var certificatePath: String
        /// The private key file (may be the same file as the certificate).
        public var privateKeyPath: String
        /// The key's passphrase, if it is encrypted. Never logged.
        public var passphrase: String?
        /// The files' format: `"PEM"` (default), `"DER"` or `"P12"`.
        public var format: String

        /// Creates a client certificate.
        public init(certificatePath: String, privateKeyPath: String, passphrase: String? = nil, format: String = "PEM") {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
            self.passphrase = passphrase
            self.format = format
        }
    }

    /// A TLS protocol version.
    public enum TLSVersion: String, Sendable, Hashable, CaseIterable {
        /// TLS 1.0 (obsolete).
        case tls1_0 = "1.0"
        /// TLS 1.1 (obsolete).
        case tls1_1 = "1.1"
        /// TLS 1.2.
        case tls1_2 = "1.2"
        /// TLS 1.3.
        case tls1_3 = "1.3"
    }

    /// Which HTTP versions to speak.
    public enum HTTPVersionPreference: Sendable, Hashable {
        /// HTTP/2 over TLS when the server offers it (ALPN), HTTP/1.1 otherwise.
        case automatic
        /// HTTP/1.1 only.
        case http1Only
    }

    /// Whether redirects are followed.
    public struct RedirectPolicy: Sendable, Hashable {
        /// How many redirects are followed at most; 0 means none.
        public let maximum: Int

        /// Follow up to `maximum` redirects.
        public static func follow(maximum: Int) -> RedirectPolicy { RedirectPolicy(maximum: max(0, maximum)) }
        /// Never follow; a 3xx response is returned as it is.
        public static let disallow = RedirectPolicy(maximum: 0)
    }

    /// Retry policies: one for control-plane calls, one for consume calls.
    public struct RetryConfiguration: Sendable, Hashable {
        /// For publish, list, get, delete. Default: ``RetryPolicy/controlPlaneDefault``.
        public var controlPlane = RetryPolicy.controlPlaneDefault
        /// For calls of a service. Default: ``RetryPolicy/consumeDefault``.
        public var consume = RetryPolicy.consumeDefault

        /// The defaults.
        public init() {}

        /// Turns retrying off for both kinds.
        public static let disabled: RetryConfiguration = {
            var configuration = RetryConfiguration()
            configuration.controlPlane = .disabled
            configuration.consume = .disabled
            return configuration
        }()

        func policy(for kind: RequestKind) -> RetryPolicy {
            kind == .consume ? self.consume : self.controlPlane
        }
    }

    /// How bearer tokens are sent and refreshed.
    public struct AuthenticationSettings: Sendable, Hashable {
        /// The `Authorization` scheme: `"Bearer"` sends `Authorization: Bearer <token>`; `nil` sends
        /// the bare token (the Python SDK's `api_key_prefix = None`).
        public var scheme: String? = "Bearer"
        /// How long before a token's expiry it is refreshed proactively. Default 60 s.
        public var refreshMargin: Duration = .seconds(60)

        /// The defaults.
        public init() {}
    }

    /// The framework's version, sent in the default `User-Agent`.
    public static let frameworkVersion = "0.1.0"
}
