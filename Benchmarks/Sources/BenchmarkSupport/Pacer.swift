import BenchmarkMeasure
import Foundation
import MLDeployHTTP
import RawCurl

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

/// The load generator of a paced run.
public enum Pacer: String, Sendable, CaseIterable {
    /// `raw_curl_paced`: libcurl in C on one thread of its own, woken by a timer (a timerfd polled
    /// beside libcurl's sockets) at each due time, so no due request is handed from one thread to
    /// another before it is sent, the way wrk2 paces (wrk2 is not packaged for this machine).
    /// Against nginx on this machine it is late by about 0.1 ms at p99 and sends 8,000/s cleanly.
    case timerThread = "c"
    /// MLDeployHTTP's client on its loop thread, the pacer of the runs before the timer-thread one:
    /// a dispatch timer wakes a task that hands the request to the loop thread, two hops that made it
    /// late by 0.3–1.2 ms at p99 on its own. Kept to compare the two in one run.
    case client

    /// The one `MLDEPLOY_PACER` names (`c` or `client`), or `timerThread`.
    public static var configured: Pacer {
        ProcessInfo.processInfo.environment["MLDEPLOY_PACER"].flatMap(Pacer.init(rawValue:)) ?? .timerThread
    }

    /// The highest rate it sends cleanly on this machine beside the server it loads; a benchmark
    /// paces a faster target at this rate and says so.
    public var cleanRate: Double { self == .timerThread ? 8000 : 4000 }

    /// Its name in a table.
    public var label: String { self == .timerThread ? "timer thread (C)" : "MLDeployHTTP client" }
}

/// Sends `body` to `url` at `rate` requests a second for `seconds`, open loop: each request leaves
/// at its scheduled time whether or not earlier ones were answered, and its latency is counted from
/// that time, so a stall of the server counts against it (wrk's closed loop would hide it).
/// A second at full speed on every connection warms up first (connections open, pools grow to
/// their working size). Any answer other than 200 fails the run.
///
/// `pacer` says which load generator sends (see `Pacer`); by default `raw_curl_paced`, or the one
/// `MLDEPLOY_PACER` names.
///
/// `warmUp: false` skips the warm-up, for a run whose server-side metrics should hold the paced
/// requests alone (after a warmed-up run).
public func pacedPost(_ url: String, body: String, headers: [String: String], rate: Double, seconds: Int, warmUp: Bool = true, pacer: Pacer = .configured) async throws -> PacedResult {
    if pacer == .client {
        return try await pacedPostWithClient(url, body: body, headers: headers, rate: rate, seconds: seconds, warmUp: warmUp)
    }
    let lines = headers.map { "\($0.key): \($0.value)" }
    let count = Int(rate * Double(seconds))
    // A thread of its own: the run blocks for `seconds`, and must not hold a thread of the pool.
    let (latencies, late) = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<([Double], [Double]), any Error>) in
        Thread.detachNewThread {
            var latencies = [Double](repeating: 0, count: count), late = [Double](repeating: 0, count: count)
            var error = [CChar](repeating: 0, count: 512)
            let answered = withCStrings(lines) { pointers in
                raw_curl_paced(url, body, pointers, Int32(lines.count), rate, Int32(seconds), 64, warmUp ? 1 : 0, &latencies, &late, &error, error.count)
            }
            if answered < 0 {
                continuation.resume(throwing: PacerFailure(description: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
            } else {
                continuation.resume(returning: (latencies, late))
            }
        }
    }
    return PacedResult(latencies: latencies, late: late, seconds: seconds)
}

/// Calls `body` with `strings` as an array of C string pointers, valid for the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}

extension PacedResult {
    /// The percentiles of one run's latencies and lateness (ms), over `seconds`.
    init(latencies: [Double], late: [Double], seconds: Int) {
        let sorted = latencies.sorted(), late = late.sorted()
        self.init(
            rate: Double(sorted.count) / Double(seconds),
            p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100], p999: sorted[sorted.count * 999 / 1000],
            lateP99: late[late.count * 99 / 100]
        )
    }
}

/// The pacer of earlier runs: MLDeployHTTP's client on its loop thread (`MLDEPLOY_PACER=client`).
private func pacedPostWithClient(_ url: String, body: String, headers: [String: String], rate: Double, seconds: Int, warmUp: Bool) async throws -> PacedResult {
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
    return PacedResult(latencies: latencies.map(\.latency), late: latencies.map(\.late), seconds: seconds)
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
