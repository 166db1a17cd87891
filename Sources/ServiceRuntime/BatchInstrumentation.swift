import Metrics
import MLDeploy
import Tracing

/// What batch executions show of themselves, the same for every backend that runs batches (the
/// memory and file stores through ``BatchCoordinator``, PostgreSQL through its job queue): counts
/// through swift-metrics (`GET /metrics` on `mldeploy serve`) and one span per record through
/// swift-distributed-tracing.
package enum BatchInstrumentation {
    /// An execution started with `records` records.
    package static func started(service: ServiceInfo, records: Int) {
        let labels = [("service", service.name), ("version", service.version)]
        Counter(label: "mldeploy_batch_executions_total", dimensions: labels).increment()
        Counter(label: "mldeploy_batch_records_submitted_total", dimensions: labels).increment(by: records)
    }

    /// Runs one record in a span `mldeploy.batch.record` (the Python call's span is its child) and
    /// counts how it ended. A thrown error becomes the record's failed response, as a batch reports
    /// it, so one bad record never ends the execution.
    package static func runRecord(
        service: ServiceInfo,
        batch: String,
        index: Int,
        _ body: () async throws -> ServiceResponse
    ) async -> ServiceResponse {
        await withSpan("mldeploy.batch.record", ofKind: .internal) { span in
            span.attributes["mldeploy.service"] = service.name
            span.attributes["mldeploy.version"] = service.version
            span.attributes["mldeploy.batch"] = batch
            span.attributes["mldeploy.batch.index"] = index
            let response: ServiceResponse
            do {
                response = try await body()
            } catch {
                response = .failure(service: service, errorMessage: (error as? MLDeployError)?.description ?? String(describing: error))
            }
            if !response.success {
                span.setStatus(SpanStatus(code: .error, message: response.errorMessage))
            }
            let labels = [("service", service.name), ("version", service.version), ("state", response.success ? "succeeded" : "failed")]
            Counter(label: "mldeploy_batch_records_total", dimensions: labels).increment()
            return response
        }
    }
}
