/// How to create one kind of backend: its names, URI schemes and factory.
///
/// Backend modules publish one as a static member so applications can write
/// `try BackendRegistry.shared.register(.memory)`:
///
/// ```swift
/// extension BackendRegistration {
///     public static var memory: BackendRegistration {
///         BackendRegistration(name: "memory", uriSchemes: ["memory"], summary: "In-process store") { _ in
///             MemoryBackend()
///         }
///     }
/// }
/// ```
public struct BackendRegistration: Sendable {
    /// The canonical name, e.g. `"MLServer"`. Lookups ignore case.
    public var name: String
    /// Other names that resolve to this backend, e.g. `"azureml.deploy.server.MLServer"`.
    public var aliases: [String]
    /// URI schemes that resolve to this backend, e.g. `["mlserver+http", "mlserver+https"]`.
    public var uriSchemes: [String]
    /// One line saying what the backend is, shown by `mldeploy backends` and in errors.
    public var summary: String
    /// Resources every client of this backend needs in its context (an HTTP backend lists the HTTP
    /// client provider). Callers can replace them by id.
    public var contextProviders: [any BackendContextProvider]
    /// The options the backend reads (from the target URI's query string, `target_options:` or
    /// code), or `nil` when it does not say — then any option is passed on (plugins). Options
    /// starting with one of ``runtimeOptionPrefixes`` are the local runtime's, set from `runtime.*`,
    /// and always pass.
    public var options: [String]?
    /// The prefixes of the local runtime's options (`python.`, `realtime.`), which every backend
    /// accepts: the configuration sets them for whatever target is chosen.
    public static let runtimeOptionPrefixes = ["python.", "realtime."]
    private let factory: @Sendable (BackendConfiguration) throws -> any Backend

    /// Creates a registration.
    ///
    /// - Parameters:
    ///   - name: The canonical name.
    ///   - aliases: Other names.
    ///   - uriSchemes: URI schemes.
    ///   - summary: One line saying what the backend is.
    ///   - contextProviders: Resources every client of this backend needs in its context.
    ///   - factory: Creates a backend from its configuration. Keep it cheap: real work belongs in
    ///     ``Backend/initialize(context:)``.
    public init(
        name: String,
        aliases: [String] = [],
        uriSchemes: [String] = [],
        summary: String,
        contextProviders: [any BackendContextProvider] = [],
        factory: @escaping @Sendable (BackendConfiguration) throws -> any Backend
    ) {
        self.name = name
        self.aliases = aliases
        self.uriSchemes = uriSchemes.map { $0.lowercased() }
        self.summary = summary
        self.contextProviders = contextProviders
        self.factory = factory
    }

    /// Creates a registration for a backend type that knows how to configure itself.
    public init<B: ConfigurableBackend>(
        _ type: B.Type,
        name: String,
        aliases: [String] = [],
        uriSchemes: [String] = [],
        summary: String,
        contextProviders: [any BackendContextProvider] = []
    ) {
        self.init(name: name, aliases: aliases, uriSchemes: uriSchemes, summary: summary, contextProviders: contextProviders) {
            try B(configuration: $0)
        }
    }

    /// This registration declaring the options its backend reads.
    public func declaringOptions(_ options: [String]) -> BackendRegistration {
        var copy = self
        copy.options = options
        return copy
    }

    /// Checks `options` against ``options``.
    ///
    /// - Throws: ``MLDeployError/Code/invalidTarget`` naming each unknown option and the known ones.
    public func checkOptions(_ options: [String: String]) throws {
        guard let known = self.options else { return }
        let unknown = options.keys.filter { key in !known.contains(key) && !Self.runtimeOptionPrefixes.contains { key.hasPrefix($0) } }.sorted()
        guard !unknown.isEmpty else { return }
        let knows = known.isEmpty ? "it takes none" : "it knows \(known.joined(separator: ", "))"
        throw MLDeployError(
            code: .invalidTarget,
            message: "The \(self.name) backend has no option \(unknown.map { "'\($0)'" }.joined(separator: ", ")); \(knows)."
        )
    }

    /// Creates a backend.
    public func makeBackend(_ configuration: BackendConfiguration) throws -> any Backend {
        try self.factory(configuration)
    }
}

/// A backend that can be created from a ``BackendConfiguration`` alone, so a type is enough to
/// name it (``DeployTarget/backend(_:options:)``) or to register it.
public protocol ConfigurableBackend: Backend {
    /// Creates the backend. Keep it cheap; do the real work in ``Backend/initialize(context:)``.
    init(configuration: BackendConfiguration) throws
}
