import Metrics
import MLDeploy

/// Batch executions and their records, through swift-metrics (`GET /metrics` on `mldeploy serve`):
/// the backends whose batches run through ``BatchCoordinator`` (the memory and file stores) report
/// here; the PostgreSQL queue does not yet.
package enum BatchMetrics {
    /// An execution started with `records` records.
    package static func recordStarted(service: ServiceInfo, records: Int) {
        let labels = [("service", service.name), ("version", service.version)]
        Counter(label: "mldeploy_batch_executions_total", dimensions: labels).increment()
        Counter(label: "mldeploy_batch_records_submitted_total", dimensions: labels).increment(by: records)
    }

    /// A record finished, successfully or not (the service raised, or its call failed).
    package static func recordFinished(_ response: ServiceResponse, service: ServiceInfo) {
        let labels = [("service", service.name), ("version", service.version), ("state", response.success ? "succeeded" : "failed")]
        Counter(label: "mldeploy_batch_records_total", dimensions: labels).increment()
    }
}
