import Hummingbird
import MLDeploy
import Synchronization

/// Counts each user's calls in flight (consume, session runs) and refuses one past
/// the per-user limit, so a single user's flood cannot take every connection and every place in
/// the workers' queues from the others.
final class CallLimiter: Sendable {
    /// The most calls one user may have in flight.
    let maximum: Int
    private let running = Mutex<[String: Int]>([:])

    /// A limiter allowing `maximum` calls per user at once.
    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Runs `body` as one of `user`'s calls.
    ///
    /// - Throws: ``ServerError`` 429 `quota-exceeded` with `Retry-After: 1` when `user` already has
    ///   ``maximum`` calls in flight; `body` does not run.
    func run<Result: Sendable>(for user: String, _ body: () async throws -> Result) async throws -> Result {
        let admitted = self.running.withLock { running in
            guard running[user, default: 0] < self.maximum else { return false }
            running[user, default: 0] += 1
            return true
        }
        guard admitted else {
            throw ServerError.retryAfter(
                .tooManyRequests, "\(user) has \(self.maximum) calls in flight, the most one user may have at once; wait for one to finish.",
                seconds: 1, exceptionType: MLDeployError.Code.quotaExceeded.rawValue
            )
        }
        defer {
            self.running.withLock { running in
                running[user, default: 1] -= 1
                if running[user] == 0 { running[user] = nil }
            }
        }
        return try await body()
    }
}
