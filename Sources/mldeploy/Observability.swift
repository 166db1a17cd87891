import Foundation
import Logging
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
        configuration.diagnosticLogLevel = .error
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
