import Foundation
import Logging
import MLDeployServer
import PostgresBackend
import PostgresNIO
import Synchronization

/// Whole collections of the server state kept in memory while the change feed is subscribed, and
/// dropped when any node's transaction changes them (a notification naming the collection). A
/// load that began before a notification arrived is not kept (the generation moves with each).
final class CollectionCache: Sendable {
    private struct State {
        var collections: [ServerStateCollection: [String: Data]] = [:]
        var generation = 0
        var listening = false
    }

    private let state = Mutex(State())

    /// The cached collection, and the generation to hand back to ``store(_:for:generation:)``.
    func lookup(_ collection: ServerStateCollection) -> (entries: [String: Data]?, generation: Int?) {
        self.state.withLock { state in
            guard state.listening else { return (nil, nil) }
            return (state.collections[collection], state.generation)
        }
    }

    /// Keeps a loaded collection unless a change arrived since its load began.
    func store(_ entries: [String: Data], for collection: ServerStateCollection, generation: Int?) {
        guard let generation else { return }
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            state.collections[collection] = entries
        }
    }

    /// Whether the feed is subscribed.
    var isListening: Bool { self.state.withLock { $0.listening } }

    /// A change of the collection named `payload` was committed somewhere.
    func changed(_ payload: String) {
        self.state.withLock { state in
            state.generation += 1
            state.collections[ServerStateCollection(rawValue: payload)] = nil
        }
    }

    /// Subscribed, or lost the connection (everything is dropped: changes may have been missed).
    func setListening(_ listening: Bool) {
        self.state.withLock { state in
            state.generation += 1
            state.listening = listening
            state.collections.removeAll()
        }
    }

    /// Listens until cancelled (``PostgresBackend/PostgresPool/follow(_:channel:logger:subscribed:received:)``).
    static func listen(_ client: PostgresClient, channel: String, cache: CollectionCache, logger: Logger) async {
        await PostgresPool.follow(client, channel: channel, logger: logger, subscribed: { cache.setListening($0) }, received: { cache.changed($0) })
    }
}
