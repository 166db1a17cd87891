import BenchmarkMeasure
import Foundation
import MLDeployHTTP

/// What an open-loop run measured: the rate achieved and latency percentiles (ms), each latency
/// counted from the request's scheduled time.
public struct PacedResult: Sendable {
    /// Requests answered per second.
    public var rate: Double
    /// Median latency (ms).
    public var p50: Double
    /// 99th percentile (ms).
    public var p99: Double
    /// 99.9th percentile (ms).
    public var p999: Double
    /// The pacer's own lateness: how long after its scheduled time a request was handed to the
    /// client, 99th percentile (ms). Part of every latency above; large when the load generator,
    /// not the server, is late (it shares the machine's cores with the server).
    public var lateP99: Double
}

/// Sends `body` to `url` at `rate` requests a second for `seconds`, open loop: each request leaves
/// at its scheduled time whether or not earlier ones were answered, and its latency is counted from
/// that time, so a stall of the server counts against it (wrk's closed loop would hide it).
/// A second at full speed on 32 connections warms up first (connections open, pools grow to their
/// working size). Any answer other than 200 fails the run.
///
/// The pacer is our own libcurl client on the same machine as the server: it sends up to ~5,000
/// requests a second cleanly; beyond that it measures itself.
///
/// `warmUp: false` skips the warm-up, for a run whose server-side metrics should hold the paced
/// requests alone (after a warmed-up run).
public func pacedPost(_ url: String, body: String, headers: [String: String], rate: Double, seconds: Int, warmUp: Bool = true) async throws -> PacedResult {
    var configuration = HTTPClient.Configuration()
    configuration.proxy = .none
    configuration.maximumConnections = 64
    let client = HTTPClient(configuration: configuration)
    defer { Task { await client.shutdown() } }
    var fields = HTTPHeaders()
    for (name, value) in headers { fields.add(name, value) }
    let request = try HTTPRequest(.post, url, headers: fields, body: .string(body))
    let warmUntil = ContinuousClock.now + .seconds(warmUp ? 1 : 0)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<32 {
            group.addTask { while ContinuousClock.now < warmUntil { _ = try await client.send(request) } }
        }
        try await group.waitForAll()
    }
    let total = Int(rate * Double(seconds))
    let interval = Duration.seconds(1.0 / rate)
    let clock = ContinuousClock()
    let start = clock.now + .milliseconds(10)
    // The pacer's tasks run on the client's loop thread: an answer is recorded where it arrives,
    // with no thread of the shared pool woken per request, so the load generator takes as little
    // of the two vCPUs it shares with the server as it can, and adds as little delay of its own.
    let latencies = try await client.withLoopExecutor { try await withThrowingTaskGroup(of: (latency: Double, late: Double).self) { group in
        var index = 0
        while index < total {
            try await clock.sleep(until: start + interval * index, tolerance: .microseconds(50))
            // Everything due by now goes out, so a late wake-up does not thin the load.
            let now = clock.now
            while index < total, start + interval * index <= now {
                let scheduled = start + interval * index
                group.addTask {
                    let sent = clock.now
                    let response = try await client.send(request)
                    guard response.status == 200 else { throw PacerFailure(description: "\(url) answered \(response.status)") }
                    return (milliseconds(clock.now - scheduled), milliseconds(sent - scheduled))
                }
                index += 1
            }
        }
        return try await group.reduce(into: [(latency: Double, late: Double)]()) { $0.append($1) }
    } }
    let sorted = latencies.map(\.latency).sorted(), late = latencies.map(\.late).sorted()
    return PacedResult(
        rate: Double(sorted.count) / Double(seconds),
        p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100], p999: sorted[sorted.count * 999 / 1000],
        lateP99: late[late.count * 99 / 100]
    )
}

/// `duration` in milliseconds.
private func milliseconds(_ duration: Duration) -> Double {
    1000 * BenchmarkMeasure.seconds(duration)
}

/// A paced run that got an answer other than 200.
public struct PacerFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}
