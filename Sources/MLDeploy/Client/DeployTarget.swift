/// Where a ``DeployClient`` deploys: a registered backend by name, a target URI, or a backend you
/// created yourself.
///
/// A string literal is read as a URI when it starts with a scheme (`"memory:"`, `"file:./services"`,
/// `"mlserver+http://localhost:12800"`) and as a registry name otherwise (`"MLServer"`, `"memory"`).
public struct DeployTarget: Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    enum Storage: Sendable {
        case named(name: String, host: String?, options: [String: String])
        case uri(String, options: [String: String])
        case instance(any Backend)
        case factory(name: String, make: @Sendable (BackendConfiguration) throws -> any Backend, options: [String: String])
    }

    let storage: Storage

    /// A backend registered under `name` (ignoring case; aliases allowed), with its host and options.
    public static func named(_ name: String, host: String? = nil, options: [String: String] = [:]) -> DeployTarget {
        DeployTarget(storage: .named(name: name, host: host, options: options))
    }

    /// A target URI: `memory:`, `file:PATH`, `mlserver+http://HOST:PORT`, or a scheme you registered.
    public static func uri(_ uri: String, options: [String: String] = [:]) -> DeployTarget {
        DeployTarget(storage: .uri(uri, options: options))
    }

    /// A backend instance you created. The client runs its lifecycle: it initializes it and shuts it
    /// down.
    public static func backend(_ backend: any Backend) -> DeployTarget {
        DeployTarget(storage: .instance(backend))
    }

    /// A backend type, created from `options` without any registry.
    public static func backend<B: ConfigurableBackend>(_ type: B.Type, options: [String: String] = [:]) -> DeployTarget {
        DeployTarget(storage: .factory(name: String(describing: type), make: { try B(configuration: $0) }, options: options))
    }

    /// Reads a target from text: a URI if it starts with a scheme, a registry name otherwise.
    public init(_ text: String) {
        self = TargetURI.looksLikeURI(text) ? .uri(text) : .named(text)
    }

    /// Reads a target from a literal. See ``init(_:)``.
    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// This target with `options` added to its own (a key given in both takes the new value). A
    /// backend instance has no options, so it is returned unchanged.
    ///
    /// Lets a tool adjust a target its user wrote, such as opening a store without creating it.
    public func addingOptions(_ options: [String: String]) -> DeployTarget {
        func merged(_ own: [String: String]) -> [String: String] { own.merging(options) { _, new in new } }
        switch self.storage {
        case .named(let name, let host, let own): return DeployTarget(storage: .named(name: name, host: host, options: merged(own)))
        case .uri(let uri, let own): return DeployTarget(storage: .uri(uri, options: merged(own)))
        case .instance: return self
        case .factory(let name, let make, let own): return DeployTarget(storage: .factory(name: name, make: make, options: merged(own)))
        }
    }

    private init(storage: Storage) {
        self.storage = storage
    }

    /// The target as given.
    public var description: String {
        switch self.storage {
        case .named(let name, let host, _): return host.map { "\(name) (\($0))" } ?? name
        case .uri(let uri, _): return uri
        case .instance(let backend): return String(describing: type(of: backend))
        case .factory(let name, _, _): return name
        }
    }

    /// The registration this target names, found without creating a backend: a tool can check a
    /// target before it starts anything (`mldeploy serve` refuses an unknown one before it makes its
    /// data directory). `nil` for a backend instance or type, which need no registry.
    ///
    /// - Throws: ``MLDeployError/Code/unknownBackend`` listing what is registered, or
    ///   ``MLDeployError/Code/invalidTarget`` for a malformed URI.
    public func registration(in registry: BackendRegistry = .shared) throws -> BackendRegistration? {
        switch self.storage {
        case .named(let name, _, _):
            guard let registration = registry.registration(named: name) else { throw registry.unknownBackendError(name, isScheme: false) }
            return registration
        case .uri(let text, _):
            let uri = try TargetURI(parsing: text)
            guard let registration = registry.registration(forScheme: uri.scheme) else { throw registry.unknownBackendError(uri.scheme, isScheme: true) }
            return registration
        case .instance, .factory:
            return nil
        }
    }

    /// A fresh backend for this target, not yet initialized — for tools that drive the lifecycle
    /// themselves, such as the conformance suite (`mldeploy conformance`), which creates a client
    /// per check.
    ///
    /// - Throws: What ``registration(in:)`` throws, or what the backend's factory throws.
    public func makeBackend(in registry: BackendRegistry = .shared) throws -> any Backend {
        try self.resolve(in: registry).0
    }

    /// Resolves the target to a fresh backend, the configuration it was made from, and the context
    /// providers its registration asks for.
    func resolve(in registry: BackendRegistry) throws -> (any Backend, BackendConfiguration, [any BackendContextProvider]) {
        switch self.storage {
        case .named(_, let host, let options):
            let registration = try self.registration(in: registry)!
            try registration.checkOptions(options)
            let configuration = BackendConfiguration(backendName: registration.name, host: host, options: options)
            return (try registration.makeBackend(configuration), configuration, registration.contextProviders)
        case .uri(let text, let options):
            let registration = try self.registration(in: registry)!
            // The URI's query string sets options too, and wins: it is the most specific.
            let uri = try TargetURI(parsing: text)
            let merged = options.merging(uri.queryOptions) { _, query in query }
            try registration.checkOptions(merged)
            let configuration = BackendConfiguration(backendName: registration.name, uri: uri, options: merged)
            return (try registration.makeBackend(configuration), configuration, registration.contextProviders)
        case .instance(let backend):
            return (backend, BackendConfiguration(backendName: String(describing: type(of: backend))), [])
        case .factory(let name, let make, let options):
            let configuration = BackendConfiguration(backendName: name, options: options)
            return (try make(configuration), configuration, [])
        }
    }
}
