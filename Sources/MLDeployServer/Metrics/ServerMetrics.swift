import CoreMetrics
import Foundation
import MLDeploy
import Prometheus
import ServiceRuntime
import Synchronization

/// The server's metrics, exposed in the Prometheus text format by `GET /metrics`.
///
/// One Prometheus registry holds everything: the server's own series (requests, logins, the Python
/// pool's gauges, read when scraped) and — once ``metricsFactory`` is bootstrapped as the process's
/// swift-metrics backend, as `mldeploy serve` does — what the framework emits through swift-metrics
/// anywhere in the process: the operation middleware's counts and durations, the Python runtime's
/// worker starts, crashes and timeouts. Every series has a `# HELP` line (from ``help``), which
/// `promtool check metrics` requires. Names follow Seldon MLServer's and KServe's, prefixed
/// `mldeploy_`; durations are in seconds.
public final class ServerMetrics: Sendable {
    /// Where every series is kept.
    public let registry: PrometheusCollectorRegistry

    /// A registry of its own (or `registry`).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// A swift-metrics backend writing into ``registry``, with help texts: bootstrap it once per
    /// process (`MetricsSystem.bootstrap(metrics.metricsFactory)`) to see the framework's metrics
    /// at `/metrics` too.
    public var metricsFactory: any MetricsFactory { HelpfulPrometheusFactory(registry: self.registry) }

    /// The help text of every series the framework emits.
    public static let help: [String: String] = [
        "mldeploy_http_requests_total": "HTTP requests answered, by method, route, service, version and status code (health and metrics requests are not counted).",
        "mldeploy_http_request_duration_seconds": "Time to answer HTTP requests, by method, route, service, version and status code.",
        "mldeploy_operations_total": "Backend operations performed, by operation, backend, service, version and outcome (success or the error code).",
        "mldeploy_operation_duration_seconds": "Time backend operations took, by operation, backend, service, version and outcome.",
        "mldeploy_python_workers": "Python worker processes now, by service, version and state (idle, busy, starting).",
        "mldeploy_python_queued_calls": "Calls waiting for a Python worker, by service and version.",
        "mldeploy_python_max_workers": "The most Python workers the runtime runs at once (runtime.max_workers).",
        "mldeploy_python_worker_starts_total": "Python worker processes started.",
        "mldeploy_python_worker_crashes_total": "Python workers that died during a call.",
        "mldeploy_python_call_timeouts_total": "Calls stopped because they ran past runtime.call_timeout.",
        "mldeploy_python_stage_seconds": "Time Python calls spent in each stage: queue (waiting for a worker, its start included), worker (the round trip to the worker), decode (reading its answer).",
        "mldeploy_batch_executions_total": "Batch executions started, by service and version.",
        "mldeploy_batch_records_submitted_total": "Batch records submitted, by service and version.",
        "mldeploy_batch_records_total": "Batch records finished, by service, version and state (succeeded, failed).",
        "mldeploy_realtime_model_cache_total": "Realtime model lookups, by result (hit: the parsed model was reused; load: it was parsed).",
        "mldeploy_realtime_models_cached": "Realtime (ONNX) models parsed and kept in memory.",
        "mldeploy_realtime_batch_rows": "Rows in the last adaptive batch of realtime calls scored together (runtime.realtime_batching).",
        "mldeploy_logins_total": "POST /login attempts, by outcome (success or refused).",
        "mldeploy_otel_spans_dropped_total": "Trace spans dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE); requests never wait for the exporter.",
        "mldeploy_token_refusals_total": "Requests refused for a missing, invalid, expired or revoked access token.",
    ]

    /// The help text for `name`: the catalogue's, or a generic one (help must be the same for every
    /// series of a name, so it is derived from the name alone).
    static func helpText(_ name: String) -> String {
        Self.help[name] ?? "\(name) (emitted through swift-metrics)."
    }

    /// Counts an answered request.
    func recordRequest(method: String, route: String, service: String?, version: String?, status: Int, duration: Duration) {
        let key = RequestSeriesKey(method: method, route: route, service: service ?? "", version: version ?? "", status: status)
        let series = self.requestSeries.withLock { $0[key] } ?? {
            let labels = [("method", method), ("route", route), ("service", key.service), ("version", key.version), ("status", String(status))]
            let made = (self.series.counter("mldeploy_http_requests_total", labels), self.series.histogram("mldeploy_http_request_duration_seconds", labels))
            self.requestSeries.withLock { $0[key] = made }
            return made
        }()
        series.requests.increment()
        series.durations.record(duration)
    }

    /// What names one request series: its labels.
    struct RequestSeriesKey: Hashable, Sendable {
        let method: String, route: String, service: String, version: String
        let status: Int
    }

    /// The counter and histogram of every request series recorded so far, so a request finds its
    /// pair with one hash lookup instead of asking the registry by name and label list twice (which
    /// checks and copies every label each time: a few percent of a fast route's server time). As
    /// many entries as the registry has series, which it keeps for the process's life anyway.
    private let requestSeries = Mutex<[RequestSeriesKey: (requests: Prometheus.Counter, durations: DurationHistogram)]>([:])

    /// Counts a login attempt.
    func recordLogin(succeeded: Bool) {
        self.series.counter("mldeploy_logins_total", [("outcome", succeeded ? "success" : "refused")]).increment()
    }

    /// Counts a request refused for its token.
    func recordTokenRefusal() {
        self.series.counter("mldeploy_token_refusals_total", []).increment()
    }

    /// The exposition: the Python pool's gauges are read now, then every series is written.
    func exposition(python: PythonRuntime?) async -> [UInt8] {
        if let python {
            let status = await python.status()
            self.series.gauge("mldeploy_python_max_workers", []).set(Double(status.maximumWorkers))
            for version in status.versions {
                let service = [("service", version.service.name), ("version", version.service.version)]
                self.series.gauge("mldeploy_python_workers", service + [("state", "idle")]).set(Double(version.idle))
                self.series.gauge("mldeploy_python_workers", service + [("state", "busy")]).set(Double(version.busy))
                self.series.gauge("mldeploy_python_workers", service + [("state", "starting")]).set(Double(version.starting))
                self.series.gauge("mldeploy_python_queued_calls", service).set(Double(version.queued))
            }
        }
        return self.registry.emitToBuffer()
    }

    /// Series with help texts, made in ``registry``.
    private var series: HelpfulPrometheusFactory { HelpfulPrometheusFactory(registry: self.registry) }
}

/// swift-metrics over a Prometheus registry, like swift-prometheus's own factory, but giving every
/// series its help text (``ServerMetrics/help``) so the exposition passes `promtool check metrics`.
struct HelpfulPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    /// Buckets from 1 ms to 60 s: fast consumes and slow deploys alike.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: ServerMetrics.helpText(label))
    }

    /// The counter `label` with `labels` (a series without labels when there are none).
    func counter(_ label: String, _ labels: [(String, String)]) -> Prometheus.Counter {
        labels.isEmpty ? self.registry.makeCounter(descriptor: self.descriptor(label)) : self.registry.makeCounter(descriptor: self.descriptor(label), labels: labels)
    }

    /// The gauge `label` with `labels`.
    func gauge(_ label: String, _ labels: [(String, String)]) -> Prometheus.Gauge {
        labels.isEmpty ? self.registry.makeGauge(descriptor: self.descriptor(label)) : self.registry.makeGauge(descriptor: self.descriptor(label), labels: labels)
    }

    /// The duration histogram `label` with `labels`, on ``durationBuckets``.
    func histogram(_ label: String, _ labels: [(String, String)]) -> DurationHistogram {
        self.registry.makeDurationHistogram(descriptor: self.descriptor(label), labels: labels, buckets: Self.durationBuckets)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        self.counter(label, dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        self.counter(label, dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        self.gauge(label, dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        self.gauge(label, dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        self.histogram(label, dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { self.registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { self.registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { self.registry.unregisterGauge(gauge) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { self.registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { self.registry.unregisterDurationHistogram(histogram) }
    }
}
