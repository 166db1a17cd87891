import Foundation
import Logging
import MLDeploy
import Metrics

/// The last step before the network: one debug log line and one measurement per attempt.
///
/// Logged: request id, method, URL without query or credentials, status or error code, duration,
/// attempt. Never logged: headers (`Authorization` included), bodies, queries.
///
/// Metrics: the counter `mldeploy_http_requests_total` and the timer
/// `mldeploy_http_request_duration_seconds`, both with the dimensions `method` and `status` (the code,
/// or `error`).
struct LoggingMiddleware: HTTPClientMiddleware {
    let metricsFactory: any MetricsFactory

    func intercept(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: (HTTPRequest, HTTPRequestContext) async throws -> HTTPResponse
    ) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        let target = CurlFailure.describe(request.url)
        do {
            let response = try await next(request, context)
            let elapsed = ContinuousClock.now - started
            self.record(method: request.method, status: "\(response.status)", elapsed: elapsed)
            context.logger.debug(
                "\(request.method) \(target) → \(response.status)",
                metadata: ["attempt": "\(context.attempt)", "duration": "\(elapsed)", "operation": "\(request.options.operationID ?? "-")"]
            )
            return response
        } catch {
            let elapsed = ContinuousClock.now - started
            self.record(method: request.method, status: "error", elapsed: elapsed)
            context.logger.debug(
                "\(request.method) \(target) failed",
                metadata: ["attempt": "\(context.attempt)", "duration": "\(elapsed)", "error": "\((error as? MLDeployError)?.code.rawValue ?? "\(type(of: error))")"]
            )
            throw error
        }
    }

    private func record(method: HTTPMethod, status: String, elapsed: Duration) {
        let dimensions = [("method", method.rawValue), ("status", status)]
        Counter(label: "mldeploy_http_requests_total", dimensions: dimensions, factory: self.metricsFactory).increment()
        let (seconds, attoseconds) = elapsed.components
        Timer(label: "mldeploy_http_request_duration_seconds", dimensions: dimensions, factory: self.metricsFactory)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
