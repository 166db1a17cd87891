/// Prepares a resource a backend receives in its ``BackendContext`` — an HTTP client with its
/// middleware chain, a connection pool — before the backend's initializer runs, and releases it after
/// the backend's destructor.
///
/// This is how the framework hands every HTTP backend the same, fully configured HTTP client without
/// the core knowing about HTTP: `MLDeployHTTP` ships a provider, HTTP backends list it in their
/// ``BackendRegistration/contextProviders``, and callers may pass their own configuration.
public protocol BackendContextProvider: Sendable {
    /// Identifies what the provider provides (e.g. `"http"`). A provider the caller passes to
    /// ``DeployClient`` replaces a registration's default provider with the same id.
    var id: String { get }

    /// Adds the resource to `context`. Called once per client, before the backend's initializer.
    func prepare(_ context: inout BackendContext) async throws

    /// Releases the resource. Called once, after the backend's destructor (also when client creation
    /// failed after ``prepare(_:)`` succeeded).
    func release(_ context: BackendContext) async
}

extension Array where Element == any BackendContextProvider {
    /// `defaults`, with each provider replaced by the override of the same id, then the remaining
    /// overrides.
    static func merging(defaults: [any BackendContextProvider], overrides: [any BackendContextProvider]) -> [any BackendContextProvider] {
        var merged = defaults.map { provider in overrides.first { $0.id == provider.id } ?? provider }
        merged += overrides.filter { override in !defaults.contains { $0.id == override.id } }
        return merged
    }
}
