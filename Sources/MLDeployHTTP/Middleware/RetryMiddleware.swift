import Foundation
import Logging
import MLDeploy

/// The second step of the chain: sends an attempt again when ``RetryPolicy`` allows it.
struct RetryMiddleware: Sendable {
    let configuration: HTTPClient.RetryConfiguration

    nonisolated(nonsending) func run(
        _ request: HTTPRequest,
        context: HTTPRequestContext,
        next: BuiltInStepNext
    ) async throws -> HTTPResponse {
        let policy = self.configuration.policy(for: request.options.kind)
        let clock = ContinuousClock()
        let started = clock.now
        var generator = SystemRandomNumberGenerator()
        var context = context

        while true {
            let wait: Duration
            do {
                let response = try await next(request, context)
                guard policy.retryableStatuses.contains(response.status), request.isIdempotent, request.isReplayable,
                    context.attempt < policy.maximumAttempts
                else { return response }
                wait = Self.delay(after: response, policy: policy, retry: context.attempt, generator: &generator, logger: context)
                guard clock.now - started + wait <= policy.maximumTotalTime else { return response }
                context.logger.debug(
                    "retrying after HTTP \(response.status)",
                    metadata: ["attempt": "\(context.attempt)", "wait": "\(wait)"]
                )
            } catch let error as MLDeployError {
                guard Self.isRetryable(error, request), request.isReplayable, context.attempt < policy.maximumAttempts else { throw error }
                wait = policy.backoff(forRetry: context.attempt, using: &generator)
                guard clock.now - started + wait <= policy.maximumTotalTime else { throw error }
                context.logger.debug(
                    "retrying after a connection failure",
                    metadata: ["attempt": "\(context.attempt)", "wait": "\(wait)", "error": "\(error.code)"]
                )
            }
            try await Task.sleep(for: wait)
            context.attempt += 1
        }
    }

    /// A connection failure is worth retrying when the server cannot have acted on the request: it
    /// was never sent, or repeating it is harmless.
    static func isRetryable(_ error: MLDeployError, _ request: HTTPRequest) -> Bool {
        guard error.code == .transportFailure || error.code == .unreachable, let failure = error.underlying as? HTTPTransportFailure else { return false }
        return !failure.requestWasSent || request.isIdempotent
    }

    static func delay(
        after response: HTTPResponse,
        policy: RetryPolicy,
        retry: Int,
        generator: inout SystemRandomNumberGenerator,
        logger context: HTTPRequestContext
    ) -> Duration {
        if policy.honorsRetryAfter, let header = response.headers["Retry-After"] {
            do {
                return try RetryAfter.parse(header)
            } catch {
                context.logger.warning("ignoring an invalid Retry-After header", metadata: ["value": "\(header)"])
            }
        }
        return policy.backoff(forRetry: retry, using: &generator)
    }
}
