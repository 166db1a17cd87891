import Foundation
import Logging
import MLDeploy
import Metrics
import Synchronization

/// The last step before the network: one debug log line and one measurement per attempt.
///
/// Logged: request id, method, URL without query or credentials, status or error code, duration,
/// attempt. Never logged: headers (`Authorization` included), bodies, queries.
///
/// Metrics: the counter `mldeploy_http_requests_total` and the timer
/// `mldeploy_http_request_duration_seconds`, both with the dimensions `method` and `status` (the code,
/// or `error`).
final class LoggingMiddleware: Sendable {
    let metricsFactory: any MetricsFactory
    /// Counters and timers by method and status, created once each: this runs for every attempt.
    private let instruments = Mutex<[InstrumentKey: (Counter, Timer)]>([:])

    /// A method and a status code (`nil`: no response), hashed as they are: no text is built per attempt.
    private struct InstrumentKey: Hashable {
        var method: HTTPMethod
        var status: Int?
    }

    init(metricsFactory: any MetricsFactory) {
        self.metricsFactory = metricsFactory
    }

    nonisolated(nonsending) func run(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: BuiltInStepNext
    ) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        let logs = context.logs(at: .debug)
        do {
            let response = try await next(request, context)
            let elapsed = ContinuousClock.now - started
            self.record(method: request.method, status: response.status, elapsed: elapsed)
            if logs {
                context.logger.debug(
                    "\(request.method) \(CurlFailure.describe(request.url)) → \(response.status)",
                    metadata: ["attempt": "\(context.attempt)", "duration": "\(elapsed)", "operation": "\(request.options.operationID ?? "-")"]
                )
            }
            return response
        } catch {
            let elapsed = ContinuousClock.now - started
            self.record(method: request.method, status: nil, elapsed: elapsed)
            if logs {
                context.logger.debug(
                    "\(request.method) \(CurlFailure.describe(request.url)) failed",
                    metadata: ["attempt": "\(context.attempt)", "duration": "\(elapsed)", "error": "\((error as? MLDeployError)?.code.rawValue ?? "\(type(of: error))")"]
                )
            }
            throw error
        }
    }

    private func record(method: HTTPMethod, status: Int?, elapsed: Duration) {
        let key = InstrumentKey(method: method, status: status)
        let (counter, timer) = self.instruments.withLock { instruments in
            if let existing = instruments[key] { return existing }
            let statusText = status.map(String.init) ?? "error"
            let dimensions = [("method", method.rawValue), ("status", statusText)]
            let created = (
                Counter(label: "mldeploy_http_requests_total", dimensions: dimensions, factory: self.metricsFactory),
                Timer(label: "mldeploy_http_request_duration_seconds", dimensions: dimensions, factory: self.metricsFactory)
            )
            instruments[key] = created
            return created
        }
        counter.increment()
        let (seconds, attoseconds) = elapsed.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
