import Foundation

/// A duration in seconds.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Times `body` `count` times; returns the median and the 95th percentile, in seconds.
public func measure(_ count: Int, _ body: (Int) async throws -> Void) async throws -> (median: Double, p95: Double) {
    var times: [Double] = []
    for index in 0..<count {
        let start = ContinuousClock.now
        try await body(index)
        times.append(seconds(ContinuousClock.now - start))
    }
    times.sort()
    return (times[times.count / 2], times[min(times.count - 1, times.count * 95 / 100)])
}

/// Seconds as µs, ms with two decimals, or whole ms.
public func format(_ seconds: Double) -> String {
    seconds >= 0.1 ? String(format: "%.0f ms", seconds * 1e3) : seconds >= 1e-3 ? String(format: "%.2f ms", seconds * 1e3) : String(format: "%.1f µs", seconds * 1e6)
}
