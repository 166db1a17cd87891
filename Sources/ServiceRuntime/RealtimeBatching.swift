import Foundation
import MLDeploy

/// Adaptive batching of a realtime service's calls, as Seldon MLServer's `max_batch_size` and
/// `max_batch_time` and BentoML's batchable endpoints do it: concurrent calls to one model wait up to
/// ``maximumWait`` for others and are scored together, one frame of all their rows, each caller
/// getting back exactly its own rows. Off by default: it helps when scoring a frame costs much less
/// per row than scoring rows one call at a time (large models, dense layers), and it costs every call
/// up to ``maximumWait`` when calls are few.
///
/// Only models that score rows independently are batched (``MLDeployONNX/ONNXModel/scoresRowsIndependently``):
/// for them the answer is the same, row for row, as a call of its own. Frames of
/// ``maximumBatchSize`` rows or more are never held.
public struct RealtimeBatching: Sendable, Hashable, CustomStringConvertible {
    /// The most rows one batch holds: a batch is scored as soon as it reaches this.
    public var maximumBatchSize: Int
    /// The longest the first call of a batch waits for others.
    public var maximumWait: Duration

    /// Batching of up to `maximumBatchSize` rows, each call waiting at most `maximumWait`.
    public init(maximumBatchSize: Int, maximumWait: Duration) {
        self.maximumBatchSize = maximumBatchSize
        self.maximumWait = maximumWait
    }

    /// `64:2ms`.
    public var description: String {
        let (seconds, attoseconds) = self.maximumWait.components
        return "\(self.maximumBatchSize):\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)us"
    }

    /// The backend option that sets batching: `realtime.batching`.
    public static let optionKey = "realtime.batching"

    /// The batching rules of backend options: `realtime.batching` is a comma-separated list of
    /// `SERVICE:SIZE:WAIT` — `SERVICE` a service name, `NAME/VERSION` for one version, or `*` for
    /// every realtime service; `SIZE` the most rows a batch holds (2 to 100,000); `WAIT` the longest
    /// a call waits, with a unit (`500us`, `2ms`; at most `1s`). The most specific rule applies.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming the entry and the expected
    ///   form.
    public static func rules(options: [String: String]) throws -> [String: RealtimeBatching] {
        guard let text = options[Self.optionKey], !text.isEmpty else { return [:] }
        var rules: [String: RealtimeBatching] = [:]
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            func refuse(_ why: String) -> MLDeployError {
                MLDeployError.invalidArgument(
                    "Option \(Self.optionKey) entry '\(entry)': \(why). Write SERVICE:SIZE:WAIT entries separated by commas, e.g. '*:64:2ms' or 'cars/1.0:32:500us'."
                )
            }
            guard parts.count >= 3 else { throw refuse("it needs a service, a batch size and a wait") }
            let service = parts.dropLast(2).joined(separator: ":")
            guard !service.isEmpty else { throw refuse("the service is empty (use * for every realtime service)") }
            guard let size = Int(parts[parts.count - 2]), (2...100_000).contains(size) else { throw refuse("the batch size must be a whole number from 2 to 100000") }
            guard let wait = Self.duration(parts[parts.count - 1]), wait > .zero, wait <= .seconds(1) else {
                throw refuse("the wait must be a positive duration of at most 1s with a unit (us, ms or s)")
            }
            guard rules[service] == nil else { throw refuse("'\(service)' has more than one entry") }
            rules[service] = RealtimeBatching(maximumBatchSize: size, maximumWait: wait)
        }
        return rules
    }

    /// The rule of `rules` for `service`: its version's, else its name's, else `*`'s.
    static func rule(in rules: [String: RealtimeBatching], for service: ServiceReference) -> RealtimeBatching? {
        // Every realtime call asks: with batching off (the default) it costs nothing.
        guard !rules.isEmpty else { return nil }
        return rules["\(service.name)/\(service.version)"] ?? rules[service.name] ?? rules["*"]
    }

    private static func duration(_ text: String) -> Duration? {
        for (unit, scale) in [("us", 1), ("ms", 1_000), ("s", 1_000_000)] where text.hasSuffix(unit) {
            guard let number = Double(text.dropLast(unit.count)), number.isFinite, number >= 0 else { return nil }
            return .microseconds(Int64((number * Double(scale)).rounded()))
        }
        return nil
    }
}
