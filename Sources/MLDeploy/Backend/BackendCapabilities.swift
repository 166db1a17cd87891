/// The features a backend supports beyond the required operations.
///
/// The client checks these before calling, so an unsupported feature fails at once with
/// ``MLDeployError/Code/unsupported`` naming the backend and the feature — never with a crash or an
/// obscure error from deep inside the backend.
public struct BackendCapabilities: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The raw bits.
    public let rawValue: UInt32

    /// Creates capabilities from raw bits.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Accepts Python `code`/`initCode` services.
    public static let pythonServices = BackendCapabilities(rawValue: 1 << 0)
    /// Accepts and runs Swift handler services (in-process backends only).
    public static let swiftHandlers = BackendCapabilities(rawValue: 1 << 1)
    /// Accepts realtime (serialized model) services.
    public static let realtime = BackendCapabilities(rawValue: 1 << 2)
    /// Runs batch executions.
    public static let batch = BackendCapabilities(rawValue: 1 << 3)
    /// Keeps per-record batch artifacts.
    public static let batchArtifacts = BackendCapabilities(rawValue: 1 << 4)
    /// Serves its own swagger documents (otherwise the client generates one from the metadata).
    public static let swagger = BackendCapabilities(rawValue: 1 << 5)

    /// Every capability, with its name.
    public static let named: [(String, BackendCapabilities)] = [
        ("pythonServices", .pythonServices), ("swiftHandlers", .swiftHandlers), ("realtime", .realtime),
        ("batch", .batch), ("batchArtifacts", .batchArtifacts), ("swagger", .swagger),
    ]

    /// The names of the capabilities present, e.g. `[batch, realtime]`.
    public var description: String {
        "[" + Self.named.filter { self.contains($0.1) }.map(\.0).joined(separator: ", ") + "]"
    }
}
