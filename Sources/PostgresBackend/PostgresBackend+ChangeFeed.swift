import Foundation
import Logging
import MLDeploy
import PostgresNIO
import ServiceRuntime
import Synchronization

/// The manifests of versions this process calls (and the last full listing), kept in memory and dropped the moment any process
/// changes them: every write sends `NOTIFY mldeploy_changes, 'NAME/VERSION'` in its transaction
/// (delivered at commit), and each backend listens on one connection of its pool. So a call costs
/// no database round trip, and what one process redeploys or deletes, the others stop serving as
/// soon as the notification arrives (milliseconds; a call already past its lookup finishes on what
/// it read).
///
/// Nothing is cached while the listener is not subscribed (at start, and after its connection
/// breaks, when the whole cache is dropped). A lookup that began before a notification arrived is
/// not stored: the generation counter moves with every notification.
final class ManifestCache: Sendable {
    /// The channel writes notify.
    static let channel = "mldeploy_changes"

    private struct State {
        var manifests: [String: Manifest] = [:]
        var generation = 0
        var listening = false
        /// Every version's manifest as the last full listing read them, and the generation then:
        /// valid until any change (which moves the generation).
        var listing: (generation: Int, manifests: [Manifest])?
    }

    private let state = Mutex(State())
    /// How many manifests are kept; beyond it the cache starts over.
    private static let limit = 10_000

    static func key(_ name: String, _ version: String) -> String { name + "/" + version }

    /// The cached manifest of `name`/`version`, and the generation to hand back to ``store(_:generation:)``.
    func lookup(_ name: String, _ version: String) -> (manifest: Manifest?, generation: Int?) {
        self.state.withLock { state in
            guard state.listening else { return (nil, nil) }
            return (state.manifests[Self.key(name, version)], state.generation)
        }
    }

    /// Keeps `manifest` unless a notification arrived since its lookup began (or the listener stopped).
    func store(_ manifest: Manifest, generation: Int?) {
        guard let generation else { return }
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.manifests.count >= Self.limit { state.manifests.removeAll() }
            state.manifests[Self.key(manifest.info.name, manifest.info.version)] = manifest
        }
    }

    /// The last full listing, if nothing changed since; else `nil` and the generation to hand back
    /// to ``storeListing(_:generation:)``.
    func listing() -> (manifests: [Manifest]?, generation: Int?) {
        self.state.withLock { state in
            guard state.listening else { return (nil, nil) }
            guard let listing = state.listing, listing.generation == state.generation else { return (nil, state.generation) }
            return (listing.manifests, state.generation)
        }
    }

    /// Keeps a full listing unless something changed since its read began.
    func storeListing(_ manifests: [Manifest], generation: Int?) {
        guard let generation else { return }
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            state.listing = (generation, manifests)
        }
    }

    /// Whether the listener is subscribed (manifests are cached only then).
    var isListening: Bool { self.state.withLock { $0.listening } }

    /// A change of `payload` (`NAME/VERSION`) was committed somewhere.
    func changed(_ payload: String) {
        self.state.withLock { state in
            state.generation += 1
            state.manifests[payload] = nil
            state.listing = nil
        }
    }

    /// The listener subscribed (`true`) or lost its connection (`false`: everything is dropped,
    /// as notifications may have been missed).
    func setListening(_ listening: Bool) {
        self.state.withLock { state in
            state.generation += 1
            state.listening = listening
            state.listing = nil
            if !listening { state.manifests.removeAll() }
        }
    }

    /// Listens until cancelled (``PostgresPool/follow(_:channel:logger:subscribed:received:)``);
    /// `wake` is called for batch notifications and on each subscription, for what was missed.
    static func listen(_ client: PostgresClient, cache: ManifestCache, logger: Logger, wake: @escaping @Sendable () -> Void = {}) async {
        await PostgresPool.follow(client, channel: Self.channel, logger: logger, subscribed: { listening in
            cache.setListening(listening)
            if listening { wake() }
        }, received: { payload in
            // Batch notifications wake the batch workers; the rest name versions.
            if payload.hasPrefix(PostgresBatchQueue.wakePrefix) { wake() } else { cache.changed(payload) }
        })
    }
}
