import Synchronization

/// The backends a process knows by name and URI scheme.
///
/// Names are case-insensitive and may have aliases. Backend modules do not register themselves —
/// Swift has no load-time hooks — so an application registers what it links, once, at start-up,
/// the way it bootstraps logging:
///
/// ```swift
/// import InMemoryBackend
/// try BackendRegistry.shared.register(.memory)
/// let client = try await DeployClient(target: "memory:")
/// ```
///
/// ``shared`` is what ``DeployClient`` uses unless given another registry; tests can make their own
/// with ``init()`` so they never depend on global state.
public final class BackendRegistry: Sendable {
    /// The process-wide registry.
    public static let shared = BackendRegistry()

    /// Which module provides each built-in backend, for the hint in "unknown backend" errors.
    static let builtInModules: [String: (name: String, module: String, registration: String)] = [
        "memory": ("memory", "InMemoryBackend", ".memory"),
        "filesystem": ("filesystem", "FileStoreBackend", ".filesystem"),
        "file": ("filesystem", "FileStoreBackend", ".filesystem"),
        "mlserver": ("MLServer", "MLServerBackend", ".mlServer"),
        "azureml.deploy.server.mlserver": ("MLServer", "MLServerBackend", ".mlServer"),
        "mlserver+http": ("MLServer", "MLServerBackend", ".mlServer"),
        "mlserver+https": ("MLServer", "MLServerBackend", ".mlServer"),
    ]

    private let registrations = Mutex<[BackendRegistration]>([])
    private let discoveries = Mutex<[any BackendDiscovery]>([])

    /// An empty registry.
    public init() {}

    /// Registers a backend.
    ///
    /// Registering a name again replaces the earlier registration (so registering the built-ins twice
    /// is harmless).
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArgument``) if one of its names, aliases
    ///   or schemes already belongs to a backend registered under another name.
    public func register(_ registration: BackendRegistration) throws {
        try self.registrations.withLock { registrations in
            let canonical = registration.name.lowercased()
            let others = registrations.filter { $0.name.lowercased() != canonical }
            let taken = Set(others.flatMap { [$0.name.lowercased()] + $0.aliases.map { $0.lowercased() } })
            if let clash = ([registration.name] + registration.aliases).first(where: { taken.contains($0.lowercased()) }) {
                throw MLDeployError.invalidArgument("The backend name '\(clash)' is already registered by another backend.")
            }
            let schemes = Set(others.flatMap(\.uriSchemes))
            if let clash = registration.uriSchemes.first(where: { schemes.contains($0) }) {
                throw MLDeployError.invalidArgument("The URI scheme '\(clash):' is already registered by another backend.")
            }
            registrations.removeAll { $0.name.lowercased() == canonical }
            registrations.append(registration)
        }
    }

    /// Removes the backend registered under `name` (or one of its aliases). Returns whether one was.
    @discardableResult
    public func unregister(_ name: String) -> Bool {
        self.registrations.withLock { registrations in
            guard let index = Self.index(of: name, in: registrations) else { return false }
            registrations.remove(at: index)
            return true
        }
    }

    /// Every registration, sorted by name.
    public var all: [BackendRegistration] {
        self.registrations.withLock { $0 }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// The registration for `name` or one of its aliases, ignoring case; failing that, what a
    /// discovery (``addDiscovery(_:)``) finds under that name. Registered backends always win.
    public func registration(named name: String) -> BackendRegistration? {
        let registered = self.registrations.withLock { registrations in
            Self.index(of: name, in: registrations).map { registrations[$0] }
        }
        return registered ?? self.discoveries.withLock { $0 }.lazy.compactMap { $0.registration(named: name) }.first
    }

    /// The registration for a URI scheme, ignoring case; failing that, what a discovery finds for it.
    public func registration(forScheme scheme: String) -> BackendRegistration? {
        let scheme = scheme.lowercased()
        let registered = self.registrations.withLock { $0.first { $0.uriSchemes.contains(scheme) } }
        return registered ?? self.discoveries.withLock { $0 }.lazy.compactMap { $0.registration(forScheme: scheme) }.first
    }

    /// Adds a way to find backends that are not registered — the plugin discovery of
    /// `MLDeployPlugin` finds `mldeploy-backend-<name>` executables. Consulted, in the order added,
    /// only for names and schemes no registered backend claims. Adding a discovery with the same
    /// ``BackendDiscovery/id`` replaces the earlier one.
    public func addDiscovery(_ discovery: any BackendDiscovery) {
        self.discoveries.withLock { discoveries in
            discoveries.removeAll { $0.id == discovery.id }
            discoveries.append(discovery)
        }
    }

    /// The discoveries added, in order.
    public var allDiscoveries: [any BackendDiscovery] {
        self.discoveries.withLock { $0 }
    }

    private static func index(of name: String, in registrations: [BackendRegistration]) -> Int? {
        let key = name.lowercased()
        return registrations.firstIndex { $0.name.lowercased() == key || $0.aliases.contains { $0.lowercased() == key } }
    }

    /// The error for a name or scheme nobody registered: what is registered and how to add one.
    func unknownBackendError(_ requested: String, isScheme: Bool) -> MLDeployError {
        let listing = self.all.map { registration -> String in
            var entry = registration.name
            var extras = registration.aliases
            extras += registration.uriSchemes.map { "\($0):" }
            if !extras.isEmpty { entry += " (" + extras.joined(separator: ", ") + ")" }
            return entry
        }
        var message = isScheme ? "No backend handles the URI scheme '\(requested):'." : "No backend is registered as '\(requested)'."
        message += listing.isEmpty ? " Nothing is registered yet." : " Registered: \(listing.joined(separator: "; "))."
        if let builtIn = Self.builtInModules[requested.lowercased()] {
            message += " The \(builtIn.name) backend lives in the \(builtIn.module) module: import it and call try BackendRegistry.shared.register(\(builtIn.registration))."
        } else {
            message += " Use one of them, or register a backend of your own (see docs/writing-a-backend.md)."
            for discovery in self.allDiscoveries {
                message += " " + discovery.hint(for: requested)
            }
        }
        return MLDeployError(code: .unknownBackend, message: message)
    }
}

/// A source of backends beyond the registered ones, asked for names and schemes nobody registered.
///
/// The core knows no concrete discovery; `MLDeployPlugin` provides the one that finds backend
/// plugins (executables named `mldeploy-backend-<name>`) on the search path.
public protocol BackendDiscovery: Sendable {
    /// A stable identifier; adding a discovery with the same id replaces the earlier one.
    var id: String { get }
    /// The registration for `name`, if this discovery finds a backend by that name.
    func registration(named name: String) -> BackendRegistration?
    /// The registration for a URI scheme (lower-cased), if this discovery finds one.
    func registration(forScheme scheme: String) -> BackendRegistration?
    /// One sentence added to "unknown backend" errors, saying where this discovery looked.
    func hint(for requested: String) -> String
}
