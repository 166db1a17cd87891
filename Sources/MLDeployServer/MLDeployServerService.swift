import Foundation
import Logging
import MLDeploy
import ServiceLifecycle

/// What the server runs besides answering requests, as a swift-service-lifecycle `Service` for the
/// host's `ServiceGroup`: the confinement check before anything is served, the node's heartbeat
/// in the shared state while it runs (so `/status` and other nodes see it), and on graceful
/// shutdown the node's departure and — when it owns the client — the client's shutdown, which
/// stops the Python workers, plugins and realtime models.
///
/// `mldeploy serve` runs one beside its own HTTP application; a host that mounts the server
/// (``MLDeployServer/mount(on:at:)``) runs one beside its own. Put it *before* the host's
/// application in the group: services stop in reverse order, so the HTTP server finishes the
/// calls in flight before the workers stop.
public struct MLDeployServerService: ServiceLifecycle.Service {
    let server: MLDeployServer
    let url: @Sendable () -> String?
    let shutsDownClient: Bool

    /// The background work of `server`.
    ///
    /// - Parameters:
    ///   - server: The server, mounted in the host's application.
    ///   - shutsDownClient: Whether graceful shutdown also shuts the server's client down (its
    ///     workers, plugins and realtime models); `false` when the host does it itself.
    ///   - url: How other nodes and `/status` name this node, mount prefix included
    ///     (`http://host:8080/ml/`), or `nil` until it is known (the host's port, once it listens);
    ///     the heartbeat starts once it is.
    public init(server: MLDeployServer, shutsDownClient: Bool = true, url: @escaping @Sendable () -> String?) {
        self.server = server
        self.url = url
        self.shutsDownClient = shutsDownClient
    }

    /// Runs until graceful shutdown (or cancellation), then leaves the node registry and, when
    /// ``MLDeployServer/service(url:shutsDownClient:)`` was asked to, shuts the client down.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` when published code
    ///   cannot be confined as configured (the group then stops before serving anything).
    public func run() async throws {
        _ = try await self.server.checkConfinement()
        let (server, url) = (self.server, self.url)
        let heartbeat = Task {
            // The URL is known once the host's server listens (a port chosen at run time).
            var known = url()
            while known == nil, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                known = url()
            }
            guard let known else { return }
            await server.registry.run(url: known, details: {
                await server.applySharedPoolSettings()
                return await server.nodeDetails()
            }, logger: server.logger)
        }
        // Returns on graceful shutdown, throws on cancellation: either way, the node leaves.
        try? await gracefulShutdown()
        heartbeat.cancel()
        await heartbeat.value
        await self.server.registry.leave()
        if self.shutsDownClient {
            try await self.server.client.shutdown()
        }
    }
}

extension MLDeployServer {
    /// The server's background work as a `Service` for a host's `ServiceGroup`
    /// (``MLDeployServerService``).
    ///
    /// - Parameters:
    ///   - url: How other nodes and `/status` name this node, mount prefix included
    ///     (`http://host:8080/ml/`).
    ///   - shutsDownClient: Whether graceful shutdown also shuts ``client`` down (its workers,
    ///     plugins and realtime models). `false` when the host shuts it down itself (as
    ///     `withDeployClient` does).
    public func service(url: String, shutsDownClient: Bool = true) -> MLDeployServerService {
        MLDeployServerService(server: self, shutsDownClient: shutsDownClient) { url }
    }
}
