import Foundation
import Logging
import Metrics
import OTel
import ServiceLifecycle
import Tracing

/// OpenTelemetry traces for the `mldeploy` process, configured by the standard `OTEL_*` variables.
///
/// Nothing is exported — and nothing is started — unless `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` says where to (and `OTEL_SDK_DISABLED` is not `true`).
/// Then swift-otel's tracer is bootstrapped for the process: spans go to a bounded queue that a
/// background batch processor exports (a full queue drops spans; requests never wait for the
/// exporter), and ``finish()`` flushes what is left before the command exits. Only traces are
/// exported here: the server's metrics are Prometheus's (`GET /metrics`), logs stay swift-log's.
final class TracingSession: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    private init(group: ServiceGroup) {
        self.group = group
        self.running = Task { try? await group.run() }
    }

    /// The session for this process, or `nil` when no endpoint is configured.
    ///
    /// - Parameter serviceName: The `service.name` unless `OTEL_SERVICE_NAME` sets one.
    static func start(serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TracingSession? {
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        guard let endpoint, !endpoint.isEmpty, environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        // Warnings reach the handler so dropped spans are counted; it prints only errors and drops.
        configuration.diagnosticLogLevel = .warning
        configuration.diagnosticLogger = .custom(Logger(label: "mldeploy.otel") { label in OTelDiagnosticHandler(label: label) })
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        return TracingSession(group: ServiceGroup(services: [service], logger: Logger(label: "mldeploy.otel")))
    }

    /// Exports what is queued and stops the exporter.
    func finish() async {
        await self.group.triggerGracefulShutdown()
        await self.running.value
    }
}

/// swift-otel's own diagnostics: its batch processor reports spans it dropped because the queue
/// was full (`dropped_count`, a warning once per export round); they are counted in
/// `mldeploy_otel_spans_dropped_total` (swift-metrics: `GET /metrics` on `mldeploy serve`) and
/// printed. Other warnings (a receiver that is down, retried exports) are not printed, so a CLI
/// command's output stays its own; errors are.
struct OTelDiagnosticHandler: LogHandler {
    private var printer: StreamLogHandler

    init(label: String) {
        self.printer = StreamLogHandler.standardError(label: label)
    }

    var logLevel: Logger.Level {
        get { self.printer.logLevel }
        set { self.printer.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { self.printer.metadata }
        set { self.printer.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.printer[metadataKey: key] }
        set { self.printer[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if case .string(let text)? = event.metadata?["dropped_count"], let dropped = Int(text), dropped > 0 {
            Counter(label: "mldeploy_otel_spans_dropped_total").increment(by: dropped)
            self.printer.log(event: event)
        } else if event.level >= .error {
            self.printer.log(event: event)
        }
    }
}
