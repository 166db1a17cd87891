import Foundation
import Logging
import MLDeploy
import Synchronization

/// One JSON object per log line on standard output, for log collectors (`server.log_format: json`):
/// `time` (ISO 8601, UTC, milliseconds), `level`, `label`, `message`, `source`, and every metadata
/// value — including `trace_id` and `span_id` when the line is logged inside a traced request.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    private static let output = Mutex(())

    init(label: String, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadataProvider?.get() ?? [:]
        merged.merge(self.metadata) { _, new in new }
        if let metadata = event.metadata { merged.merge(metadata) { _, new in new } }
        var object: JSONObject = [
            "time": .string(Self.timestamp()), "level": .string(event.level.rawValue), "label": .string(self.label),
            "message": .string(event.message.description), "source": .string(event.source),
        ]
        for key in merged.keys.sorted() where object[key] == nil {
            object[key] = Self.json(merged[key]!)
        }
        guard var line = try? JSONValue.object(object).serialized() else { return }
        line += "\n"
        Self.output.withLock { _ in
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let value): return .string(value.description)
        case .array(let values): return .array(values.map(Self.json))
        case .dictionary(let values):
            var object = JSONObject()
            for key in values.keys.sorted() { object.append(key, Self.json(values[key]!)) }
            return .object(object)
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
