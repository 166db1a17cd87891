import MLDeploy

/// The conformance suite every backend must pass: the ML Server semantics, checked against a real
/// backend instance.
///
/// It covers the lifecycle order, create/read/update/delete and version semantics, "latest", the
/// three list forms, calls of every parameter type, artifacts and console output, batch order,
/// partial results and cancellation, and every kind of bad input. Features a backend does not claim
/// in its ``MLDeploy/BackendCapabilities`` are checked to be refused with
/// ``MLDeploy/MLDeployError/Code/unsupported`` instead.
///
/// ```swift
/// import MLDeployConformance
/// import Testing
///
/// @Test(arguments: BackendConformance.checks)
/// func myBackendConforms(_ check: ConformanceCheck) async throws {
///     try await check.run(ConformanceConfiguration { MyBackend() })
/// }
/// ```
public enum BackendConformance {
    /// Every check, in a stable order.
    public static let checks: [ConformanceCheck] =
        lifecycleChecks + crudChecks + consumeChecks + batchChecks + badInputChecks

    /// Runs every check and collects the failures (empty when the backend conforms). Each failure
    /// names its check: an unexpected error from the backend is reported as a failure of the check
    /// that met it, with the error in the message.
    public static func run(_ configuration: ConformanceConfiguration) async -> [ConformanceFailure] {
        var failures: [ConformanceFailure] = []
        for check in self.checks {
            do {
                try await check.run(configuration)
            } catch let failure as ConformanceFailure {
                failures.append(failure)
            } catch {
                failures.append(ConformanceFailure(check: check.name, message: "unexpected error: \(error)", location: "the backend"))
            }
        }
        return failures
    }
}
