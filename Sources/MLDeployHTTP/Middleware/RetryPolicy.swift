import Foundation
import MLDeploy

/// When and how a failed request is sent again.
///
/// A request is retried only when **all** of these hold:
///
/// - the attempt failed with a status in ``retryableStatuses`` and the request may be repeated
///   (an idempotent method, or ``HTTPRequest/Options/idempotent`` set), **or** the connection failed
///   before any byte of the request was sent (then any method is safe), or after it for an
///   idempotent request;
/// - the body can be sent again (bytes in memory — a streamed body is never replayed);
/// - fewer than ``maximumAttempts`` attempts were made, and waiting would not exceed
///   ``maximumTotalTime`` counted from the first attempt.
///
/// The wait is the server's `Retry-After` when present (seconds or an HTTP date), otherwise
/// exponential backoff with full jitter: a random duration between zero and
/// `min(maximumBackoff, initialBackoff × multiplier^(retry − 1))`.
public struct RetryPolicy: Sendable, Hashable {
    /// The most attempts, the first included; 1 turns retrying off.
    public var maximumAttempts: Int
    /// The backoff ceiling before the first retry.
    public var initialBackoff: Duration
    /// The largest backoff ceiling.
    public var maximumBackoff: Duration
    /// How much the ceiling grows per retry.
    public var multiplier: Double
    /// The time budget for all attempts and waits together.
    public var maximumTotalTime: Duration
    /// Statuses worth retrying.
    public var retryableStatuses: Set<Int>
    /// Whether to wait as long as the server's `Retry-After` says.
    public var honorsRetryAfter: Bool

    /// Creates a policy.
    public init(
        maximumAttempts: Int,
        initialBackoff: Duration = .milliseconds(200),
        maximumBackoff: Duration = .seconds(10),
        multiplier: Double = 2,
        maximumTotalTime: Duration = .seconds(60),
        retryableStatuses: Set<Int> = [429, 502, 503, 504],
        honorsRetryAfter: Bool = true
    ) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.multiplier = multiplier
        self.maximumTotalTime = maximumTotalTime
        self.retryableStatuses = retryableStatuses
        self.honorsRetryAfter = honorsRetryAfter
    }

    /// Control-plane calls: 4 attempts within 60 s, on 429, 502, 503 and 504.
    public static let controlPlaneDefault = RetryPolicy(maximumAttempts: 4)

    /// Consume calls: 3 attempts within 60 s, on 429, 502 and 503 — not 504: a gateway timeout means
    /// the service may still be working, and retrying would pile load on it.
    public static let consumeDefault = RetryPolicy(maximumAttempts: 3, retryableStatuses: [429, 502, 503])

    /// No retries.
    public static let disabled = RetryPolicy(maximumAttempts: 1, retryableStatuses: [])

    /// The backoff ceiling before retry number `retry` (1-based).
    public func backoffCeiling(forRetry retry: Int) -> Duration {
        let factor = pow(self.multiplier, Double(max(0, retry - 1)))
        let ceiling = self.initialBackoff * factor
        return ceiling < self.maximumBackoff ? ceiling : self.maximumBackoff
    }

    /// A jittered wait before retry number `retry`: uniform in `[0, ceiling]` ("full jitter").
    public func backoff<Generator: RandomNumberGenerator>(forRetry retry: Int, using generator: inout Generator) -> Duration {
        self.backoffCeiling(forRetry: retry) * Double.random(in: 0...1, using: &generator)
    }
}

/// Reads `Retry-After` (RFC 9110 §10.2.3): a number of seconds, or an HTTP date.
public enum RetryAfter {
    /// The wait a `Retry-After` value asks for; a date in the past means no wait.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidResponse`` for anything else (negative, fractional
    ///   or garbled values).
    public static func parse(_ value: String, now: Date = Date()) throws -> Duration {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let seconds = Int(trimmed) else {
                throw MLDeployError(code: .invalidResponse, message: "Retry-After \(value.debugDescription) is out of range.")
            }
            return .seconds(seconds)
        }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) {
                let interval = max(0, date.timeIntervalSince(now))
                return .milliseconds(Int((interval * 1000).rounded(.up)))
            }
        }
        throw MLDeployError(
            code: .invalidResponse,
            message: "Retry-After \(value.debugDescription) is neither a number of seconds nor an HTTP date."
        )
    }
}
