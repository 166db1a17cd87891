import Synchronization

/// Parses the messages of one pipe as its chunks arrive, on the reader thread; after the first
/// bytes that are not a message it ignores the rest (the pipe is only drained).
final class PluginMessageParser: Sendable {
    /// What a chunk held.
    enum Outcome {
        case messages([PluginMessage])
        case broken([PluginMessage], excerpt: String)
        case ignored
    }

    private let state = Mutex<(reader: PluginMessageReader, broken: Bool)>((PluginMessageReader(), false))

    /// Adds `chunk` and returns the messages it completed.
    func parse(_ chunk: [UInt8]) -> Outcome {
        self.state.withLock { state in
            guard !state.broken else { return .ignored }
            state.reader.append(chunk)
            var messages: [PluginMessage] = []
            do {
                while let message = try state.reader.next() { messages.append(message) }
                return .messages(messages)
            } catch {
                state.broken = true
                return .broken(messages, excerpt: state.reader.pendingExcerpt)
            }
        }
    }
}
