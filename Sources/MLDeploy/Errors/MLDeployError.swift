/// The one error type of the MLDeploy family of modules.
///
/// Every failure that crosses a public API is an `MLDeployError`: a stable ``code`` that programs can
/// switch on (and that the CLI and the server print), a ``message`` written for the person who has to
/// fix the problem, and — when the failure came from an HTTP exchange — the ``httpStatus`` and
/// ``responseBody``.
///
/// The type is a struct rather than a public enum so that new failure kinds can be added without
/// breaking anyone's exhaustive `switch` (the convention of AsyncHTTPClient's `HTTPClientError` and
/// gRPC's `RPCError`). Compare codes with `==`:
///
/// ```swift
/// do {
///     try await client.deleteService("Tx", version: "1.0")
/// } catch let error as MLDeployError where error.code == .notFound {
///     // already gone
/// }
/// ```
public struct MLDeployError: Error, Sendable, CustomStringConvertible {
    /// The stable, machine-readable kind of failure.
    public var code: Code
    /// What went wrong and, where possible, what to do about it.
    public var message: String
    /// The HTTP status of the response that caused the failure, if there was one.
    public var httpStatus: Int?
    /// The body of the response that caused the failure, if there was one (as text).
    public var responseBody: String?
    /// The lower-level error this one wraps, if any (a decoding error, a POSIX error, …).
    public var underlying: (any Error & Sendable)?

    /// Creates an error. Prefer the static constructors (``notFound(_:)``, ``invalidArgument(_:)``, …)
    /// which pick the right code; this initializer is for backends that map foreign failures.
    public init(
        code: Code,
        message: String,
        httpStatus: Int? = nil,
        responseBody: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.responseBody = responseBody
        self.underlying = underlying
    }

    /// `"[code] message"`, plus the HTTP status when there was one.
    public var description: String {
        var text = "[\(self.code)] \(self.message)"
        if let status = self.httpStatus {
            text += " (HTTP \(status))"
        }
        return text
    }
}

extension MLDeployError {
    /// A stable identifier for a kind of failure.
    ///
    /// Codes are strings such as `"not-found"`; they never change once released, so scripts and other
    /// tools may rely on them. Backends may define their own codes with ``init(_:)`` for failures the
    /// built-in set does not cover.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable text, for example `"not-found"`.
        public let rawValue: String

        /// Creates a code from its stable text. Use for backend-specific failure kinds.
        public init(_ rawValue: String) {
            self.rawValue = rawValue
        }

        /// The code's stable text.
        public var description: String { self.rawValue }

        /// A service name does not follow the naming rules.
        public static let invalidName = Code("invalid-name")
        /// A service version does not follow the naming rules.
        public static let invalidVersion = Code("invalid-version")
        /// An operation that needs an explicit version was called without one.
        public static let missingVersion = Code("missing-version")
        /// An argument is malformed or contradicts another one.
        public static let invalidArgument = Code("invalid-argument")
        /// A parameter type is not one of the seven ML Server types (or their Python spellings).
        public static let unknownParameterType = Code("unknown-parameter-type")
        /// Inputs given to a service do not match its input schema (missing, extra or wrong type).
        public static let inputMismatch = Code("input-mismatch")
        /// A service produced an output that does not match its output schema.
        public static let outputMismatch = Code("output-mismatch")
        /// A value cannot be represented on the wire: NaN or infinity, ragged matrices, unequal columns.
        public static let invalidValue = Code("invalid-value")
        /// JSON text could not be parsed.
        public static let invalidJSON = Code("invalid-json")
        /// The service, version, batch execution or artifact does not exist.
        public static let notFound = Code("not-found")
        /// The name and version already exist; deploying would overwrite them.
        public static let conflict = Code("conflict")
        /// The backend does not support the requested feature (see ``BackendCapabilities``).
        public static let unsupported = Code("unsupported")
        /// No backend is registered under the requested name or URI scheme.
        public static let unknownBackend = Code("unknown-backend")
        /// A deployment target string or URI could not be understood.
        public static let invalidTarget = Code("invalid-target")
        /// A configuration setting is malformed, contradictory or missing (the message names the
        /// key, where it came from and the expected form), or a config file or profile is missing.
        public static let invalidConfiguration = Code("invalid-configuration")
        /// Credentials were rejected, or an operation needed credentials that were not given.
        public static let authenticationFailed = Code("authentication-failed")
        /// The caller is authenticated but not allowed to do this (HTTP 403): a Reader publishing, a
        /// Contributor changing someone else's service.
        public static let permissionDenied = Code("permission-denied")
        /// The ``DeployClient`` was used after ``DeployClient/shutdown()``.
        public static let clientShutDown = Code("client-shut-down")
        /// The service needs the Python runtime, which is not available to this backend.
        public static let pythonRuntimeUnavailable = Code("python-runtime-unavailable")
        /// The process running the service died during the call (a crash, `os._exit`, out of memory).
        public static let workerCrashed = Code("worker-crashed")
        /// A service's objects, models or init code failed to load.
        public static let serviceLoadFailed = Code("service-load-failed")
        /// A persisted Swift handler is not registered in this process.
        public static let unresolvedHandler = Code("unresolved-handler")
        /// An artifact could not be decoded (for example, invalid base64 from a server).
        public static let invalidArtifact = Code("invalid-artifact")
        /// A response from a backend could not be understood.
        public static let invalidResponse = Code("invalid-response")
        /// The operation was cancelled.
        public static let cancelled = Code("cancelled")
        /// The operation did not finish in time.
        public static let timeout = Code("timeout")
        /// A failure injected on purpose by a test double (see the in-memory backend's fault plan).
        public static let injectedFault = Code("injected-fault")
        /// The backend failed for a reason of its own (an I/O error, an unexpected server response).
        public static let backendFailure = Code("backend-failure")
        /// An HTTP request could not be built as given: a malformed URL, an unsupported scheme, a
        /// header with CR or LF.
        public static let invalidRequest = Code("invalid-request")
        /// The connection failed after it was made: reset, or closed before the response was complete.
        public static let transportFailure = Code("transport-failure")
        /// The server could not be reached at all: the connection was refused, the host name does not
        /// resolve, or no route leads there. Nothing was sent; check the address and that the server runs.
        public static let unreachable = Code("unreachable")
        /// A server could not listen: another process already listens on its address and port.
        public static let addressInUse = Code("address-in-use")
        /// Every worker that could run the call was busy for longer than the runtime lets a call wait
        /// for one. Nothing ran; try again later (a server answers 503 with `Retry-After`).
        public static let overloaded = Code("overloaded")
        /// A user's share of a server is used up: the bytes their sessions and snapshots may hold
        /// (a server answers 413), or the sessions or calls they may have at once (429). Nothing
        /// of the refused request was kept; free some, or wait for calls in flight to finish.
        public static let quotaExceeded = Code("quota-exceeded")
        /// TLS failed: the server's certificate did not verify, the handshake failed, a client
        /// certificate was refused or could not be loaded.
        public static let tlsFailure = Code("tls-failure")
        /// Storage failed: a file could not be read or written (read-only, full, permissions).
        public static let storageFailure = Code("storage-failure")
        /// A store's on-disk format is foreign or newer than this version understands.
        public static let incompatibleStore = Code("incompatible-store")
        /// A response body exceeded the configured maximum size.
        public static let responseTooLarge = Code("response-too-large")
        /// A backend plugin (an `mldeploy-backend-<name>` executable) could not be started, broke
        /// the plugin protocol, exited, or did not answer in time. The message names the plugin and
        /// quotes the end of its standard error.
        public static let pluginFailed = Code("plugin-failed")
    }
}

// MARK: - Constructors used throughout the framework

extension MLDeployError {
    /// The service (or one of its versions, batches or artifacts) does not exist.
    public static func notFound(_ message: String) -> Self {
        Self(code: .notFound, message: message)
    }

    /// An argument is malformed or contradicts another one.
    public static func invalidArgument(_ message: String) -> Self {
        Self(code: .invalidArgument, message: message)
    }

    /// A value cannot be represented on the wire.
    public static func invalidValue(_ message: String) -> Self {
        Self(code: .invalidValue, message: message)
    }

    /// The backend does not support a feature.
    public static func unsupported(_ feature: String, backend: String) -> Self {
        Self(
            code: .unsupported,
            message: "The \(backend) backend does not support \(feature). Choose a target whose capabilities include it."
        )
    }

    /// The name and version are already deployed.
    public static func conflict(name: String, version: String) -> Self {
        Self(
            code: .conflict,
            message: "Service '\(name)' version '\(version)' already exists. Use redeploy to change it, or pick a new version."
        )
    }

    /// The name and version are not deployed.
    public static func serviceNotFound(name: String, version: String?) -> Self {
        if let version {
            return .notFound("No service '\(name)' with version '\(version)'. List its versions to see which exist.")
        }
        return .notFound("No service named '\(name)'. List the deployed services to see which names exist.")
    }
}
