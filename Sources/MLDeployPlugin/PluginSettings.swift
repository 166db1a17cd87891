import Foundation

/// Where the host looks for backend plugins and how long it waits for them.
///
/// Read from the configuration file's `plugins` section (`plugins.path`,
/// `plugins.handshake_timeout`, `plugins.call_timeout`) and the environment
/// (`MLDEPLOY_PLUGIN_PATH`); give one to ``MLDeploy/BackendRegistry/enablePluginDiscovery(_:)``.
public struct PluginSettings: Sendable, Hashable {
    /// Directories searched after `MLDEPLOY_PLUGIN_PATH` and before `PATH` (the config file's
    /// `plugins.path`).
    public var searchPaths: [String]
    /// How long a plugin may take to start and answer the handshake.
    public var handshakeTimeout: Duration
    /// How long one operation may take before the host gives up on it (the plugin is told to
    /// cancel it).
    public var callTimeout: Duration
    /// Whether `MLDEPLOY_PLUGIN_PATH` and `PATH` are searched (tests turn it off to see only their
    /// own directories).
    public var searchesEnvironment: Bool
    /// How long calls fail at once after a plugin failed to start, before it is tried again; it
    /// doubles with each further failure, up to 40 times this (10 s by default).
    public var restartBackoff: Duration

    /// Settings with the defaults: no extra directories, a 10 s handshake, 300 s calls, the
    /// environment searched, restarts backing off from 0.25 s.
    public init(
        searchPaths: [String] = [],
        handshakeTimeout: Duration = .seconds(10),
        callTimeout: Duration = .seconds(300),
        searchesEnvironment: Bool = true,
        restartBackoff: Duration = .milliseconds(250)
    ) {
        self.searchPaths = searchPaths
        self.handshakeTimeout = handshakeTimeout
        self.callTimeout = callTimeout
        self.searchesEnvironment = searchesEnvironment
        self.restartBackoff = restartBackoff
    }

    /// The directories searched, in order: `MLDEPLOY_PLUGIN_PATH`, ``searchPaths``, `PATH`.
    public var directories: [String] {
        let environment = ProcessInfo.processInfo.environment
        func split(_ value: String?) -> [String] { (value ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty } }
        var result: [String] = []
        if self.searchesEnvironment { result += split(environment["MLDEPLOY_PLUGIN_PATH"]) }
        result += self.searchPaths.flatMap { split($0) }
        if self.searchesEnvironment { result += split(environment["PATH"]) }
        var seen = Set<String>()
        return result.filter { seen.insert($0).inserted }
    }
}
