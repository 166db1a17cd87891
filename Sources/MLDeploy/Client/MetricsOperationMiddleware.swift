import Metrics

/// Counts and times every operation through swift-metrics — whatever metrics backend the
/// application bootstrapped (`mldeploy serve` uses Prometheus: `GET /metrics`).
///
/// - `mldeploy_operations_total` (counter) and `mldeploy_operation_duration_seconds` (timer; a
///   histogram in Prometheus), labelled `operation`, `backend`, `service`, `version` and `outcome`
///   (`success` or the error code: `not-found`, `input-mismatch`, …).
///
/// A version is labelled as given (`latest` when an operation names none), so the number of series
/// grows with the versions called; drop `service` and `version` (`labelsServices: false`) where
/// versions are many and short-lived.
public struct MetricsOperationMiddleware: OperationMiddleware {
    /// Whether series are labelled by service and version.
    public var labelsServices: Bool
    /// The factory metrics are made with; `nil` for the process's (`MetricsSystem.bootstrap`).
    public var factory: (any MetricsFactory)?

    /// Creates the middleware.
    ///
    /// - Parameters:
    ///   - labelsServices: Whether series are labelled by service and version.
    ///   - factory: A metrics factory of its own (tests, a registry apart); by default the one the
    ///     process bootstrapped.
    public init(labelsServices: Bool = true, factory: (any MetricsFactory)? = nil) {
        self.labelsServices = labelsServices
        self.factory = factory
    }

    /// Counts and times the operation.
    public func intercept<Result>(_ operation: OperationContext, next: (OperationContext) async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        var failure: (any Error)?
        defer {
            var dimensions = [("operation", operation.operation.rawValue), ("backend", operation.backend)]
            if self.labelsServices {
                dimensions += [("service", operation.service ?? ""), ("version", operation.version ?? (operation.service == nil ? "" : "latest"))]
            }
            dimensions.append(("outcome", MLDeployError.Code.outcome(of: failure)))
            let factory = self.factory ?? MetricsSystem.factory
            Counter(label: "mldeploy_operations_total", dimensions: dimensions, factory: factory).increment()
            Timer(label: "mldeploy_operation_duration_seconds", dimensions: dimensions, factory: factory).recordInterval(since: start)
        }
        do {
            return try await next(operation)
        } catch {
            failure = error
            throw error
        }
    }
}

extension Timer {
    /// Records the time since `start`.
    fileprivate func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - start).components
        self.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
