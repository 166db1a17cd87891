// HTTP client benchmark: requests per second against one fast local endpoint, for
//   - MLDeployHTTP's HTTPClient (the full middleware chain) with one loop thread, and the same
//     client with two loop threads (sharded multi handles), and with the callers on the loop
//     thread (`withLoopExecutor`), side by side,
//   - Foundation's URLSession,
//   - one reused raw libcurl easy handle in C (the sequential ceiling of libcurl itself),
//   - wrk (the concurrent ceiling of the endpoint),
// sequentially and 16-way concurrently. Every mode runs for the same wall time (≥ 5 s, as wrk does),
// in rounds interleaved mode by mode, reported as min / median / max and median ratios.
//
// Usage: HTTPBenchmark URL [--seconds S] [--rounds R] [--concurrency C] [--only sequential|concurrent|sequential-loop|concurrent-loop|raw|raw-concurrent] [--loops 1|2]

#if canImport(Glibc)
@preconcurrency import Glibc  // stdout, for setvbuf (a C global Swift 6 cannot vouch for)
#endif
import Foundation
import MLDeploy
import MLDeployHTTP
import RawCurl
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct Options {
    var url = ""
    var seconds = 5
    var rounds = 5
    var concurrency = 16
    var only: String?
    var loops = 1

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": self.seconds = Int(iterator.next()!)!
            case "--rounds": self.rounds = Int(iterator.next()!)!
            case "--concurrency": self.concurrency = Int(iterator.next()!)!
            case "--only": self.only = iterator.next()!
            case "--loops": self.loops = Int(iterator.next()!)!
            default: self.url = argument
            }
        }
        precondition(!self.url.isEmpty && self.seconds >= 1, "usage: HTTPBenchmark URL [--seconds S] [--rounds R] [--concurrency C] [--only sequential|concurrent|sequential-loop|concurrent-loop|raw|raw-concurrent] [--loops 1|2]")
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

/// Calls `call` from `concurrency` tasks until `seconds` have passed; calls completed per second.
/// Each task runs its calls inside `around` (e.g. on a loop executor of its own).
func sustained(
    seconds: Int,
    concurrency: Int,
    around: @escaping @Sendable (@Sendable () async throws -> Int) async throws -> Int = { try await $0() },
    _ call: @escaping @Sendable () async throws -> Void
) async throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now, deadline = start + .seconds(seconds)
    let completed = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                try await around {
                    var count = 0
                    while clock.now < deadline {
                        try await call()
                        count += 1
                    }
                    return count
                }
            }
        }
        return try await group.reduce(0, +)
    }
    let (whole, fraction) = (clock.now - start).components
    return Double(completed) / (Double(whole) + Double(fraction) / 1e18)
}

func ours(_ client: HTTPClient, _ request: HTTPRequest, seconds: Int, concurrency: Int) async throws -> Double {
    try await sustained(seconds: seconds, concurrency: concurrency) {
        let response = try await client.send(request)
        guard response.status == 200, !response.bytes.isEmpty else { throw Failure(description: "HTTPClient got \(response.status)") }
    }
}

/// As ``ours(_:_:seconds:concurrency:)``, with each caller's code on one of the client's loop
/// threads (`HTTPClient.withLoopExecutor` in each task, so callers spread over the loops): each
/// answer resumes its caller where it arrived.
func oursOnLoop(_ client: HTTPClient, _ request: HTTPRequest, seconds: Int, concurrency: Int) async throws -> Double {
    try await sustained(seconds: seconds, concurrency: concurrency, around: { body in try await client.withLoopExecutor { try await body() } }) {
        let response = try await client.send(request)
        guard response.status == 200, !response.bytes.isEmpty else { throw Failure(description: "HTTPClient got \(response.status)") }
    }
}

func urlSession(_ session: URLSession, _ url: URL, seconds: Int, concurrency: Int) async throws -> Double {
    try await sustained(seconds: seconds, concurrency: concurrency) {
        let (data, response) = try await session.data(from: url)
        guard (response as? HTTPURLResponse)?.statusCode == 200, !data.isEmpty else { throw Failure(description: "URLSession failed") }
    }
}

/// The raw handle's blocking C loop, in batches of 500 requests until `seconds` have passed.
func rawCurl(_ url: String, seconds: Int) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now, deadline = start + .seconds(seconds)
    var completed = 0
    while clock.now < deadline {
        guard raw_curl_sequential(url, 500) > 0 else { throw Failure(description: "raw curl failed") }
        completed += 500
    }
    let (whole, fraction) = (clock.now - start).components
    return Double(completed) / (Double(whole) + Double(fraction) / 1e18)
}

/// libcurl's own concurrent ceiling: `connections` handles over `threads` C threads, one multi handle each.
func rawCurlConcurrent(_ url: String, connections: Int, threads: Int, seconds: Int) throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    let completed = raw_curl_concurrent(url, Int32(connections), Int32(threads), Int32(seconds))
    guard completed > 0 else { throw Failure(description: "raw curl (concurrent) failed") }
    let (whole, fraction) = (clock.now - start).components
    return Double(completed) / (Double(whole) + Double(fraction) / 1e18)
}

func wrk(_ url: String, connections: Int, seconds: Int) throws -> Double {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["wrk", "-t", "\(min(2, connections))", "-c", "\(connections)", "-d", "\(seconds)s", url]
    process.standardOutput = output
    try process.run()
    process.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
        let value = Double(line.split(separator: " ").last ?? "")
    else { throw Failure(description: "could not read wrk's output:\n\(text)") }
    return value
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

setvbuf(stdout, nil, _IOLBF, 0)

let options = Options(CommandLine.arguments)
var configuration = HTTPClient.Configuration()
configuration.proxy = .none
configuration.loopThreads = 1
let client = HTTPClient(configuration: configuration)
var twoLoopConfiguration = configuration
twoLoopConfiguration.loopThreads = 2
let twoLoops = HTTPClient(configuration: twoLoopConfiguration)
let request = try HTTPRequest(.get, options.url)
let sessionConfiguration = URLSessionConfiguration.ephemeral
sessionConfiguration.connectionProxyDictionary = [:]
let session = URLSession(configuration: sessionConfiguration)
let url = URL(string: options.url)!

// Profiling aid: run one of our modes alone, for a profiler to sample.
if let only = options.only {
    if only == "raw" {
        for _ in 0..<options.rounds { print(only, try rawCurl(options.url, seconds: options.seconds)) }
        exit(0)
    }
    if only == "raw-concurrent" {
        for _ in 0..<options.rounds {
            print(only, try rawCurlConcurrent(options.url, connections: options.concurrency, threads: options.loops, seconds: options.seconds))
        }
        exit(0)
    }
    let concurrency = only.hasPrefix("sequential") ? 1 : options.concurrency
    let chosen = options.loops == 2 ? twoLoops : client
    for _ in 0..<options.rounds {
        let rate = only.hasSuffix("-loop")
            ? try await oursOnLoop(chosen, request, seconds: options.seconds, concurrency: concurrency)
            : try await ours(chosen, request, seconds: options.seconds, concurrency: concurrency)
        print(only, rate)
    }
    await client.shutdown()
    exit(0)
}

// Warm up every client (connections, handle pools, lazy initialization).
_ = try await ours(client, request, seconds: 1, concurrency: options.concurrency)
_ = try await ours(twoLoops, request, seconds: 1, concurrency: options.concurrency)
_ = try await urlSession(session, url, seconds: 1, concurrency: options.concurrency)
_ = try rawCurl(options.url, seconds: 1)

var results: [String: [Double]] = [:]
for round in 1...options.rounds {
    results["ours sequential", default: []].append(try await ours(client, request, seconds: options.seconds, concurrency: 1))
    results["URLSession sequential", default: []].append(try await urlSession(session, url, seconds: options.seconds, concurrency: 1))
    results["raw curl handle sequential", default: []].append(try rawCurl(options.url, seconds: options.seconds))
    results["ours concurrent", default: []].append(try await ours(client, request, seconds: options.seconds, concurrency: options.concurrency))
    results["ours on loop, sequential", default: []].append(try await oursOnLoop(client, request, seconds: options.seconds, concurrency: 1))
    results["ours on loop, concurrent", default: []].append(try await oursOnLoop(client, request, seconds: options.seconds, concurrency: options.concurrency))
    results["ours, 2 loops, concurrent", default: []].append(try await ours(twoLoops, request, seconds: options.seconds, concurrency: options.concurrency))
    results["ours on 2 loops, concurrent", default: []].append(try await oursOnLoop(twoLoops, request, seconds: options.seconds, concurrency: options.concurrency))
    results["raw curl multi, 1 thread", default: []].append(try rawCurlConcurrent(options.url, connections: options.concurrency, threads: 1, seconds: options.seconds))
    results["raw curl multi, 2 threads", default: []].append(try rawCurlConcurrent(options.url, connections: options.concurrency, threads: 2, seconds: options.seconds))
    results["URLSession concurrent", default: []].append(try await urlSession(session, url, seconds: options.seconds, concurrency: options.concurrency))
    results["wrk concurrent", default: []].append(try wrk(options.url, connections: options.concurrency, seconds: options.seconds))
    FileHandle.standardError.write(Data("round \(round) done\n".utf8))
}
await client.shutdown()
await twoLoops.shutdown()

@MainActor
func show(_ name: String) -> Double {
    let values = results[name]!
    let label = name.padding(toLength: 28, withPad: " ", startingAt: 0)
    print(label + String(format: "min %8.0f   median %8.0f   max %8.0f req/s", values.min()!, median(values), values.max()!))
    return median(values)
}

print("HTTP client benchmark — \(options.url): every mode \(options.seconds) s per round, \(options.rounds) rounds interleaved; ratios of medians")
print("libcurl: \(HTTPClient.libcurlVersion)")
let oursSequential = show("ours sequential")
let sessionSequential = show("URLSession sequential")
let rawSequential = show("raw curl handle sequential")
let oursConcurrent = show("ours concurrent")
let sessionConcurrent = show("URLSession concurrent")
let wrkConcurrent = show("wrk concurrent")
let twoConcurrent = show("ours, 2 loops, concurrent")
let loopSequential = show("ours on loop, sequential")
let loopConcurrent = show("ours on loop, concurrent")
let twoLoopConcurrent = show("ours on 2 loops, concurrent")
let rawMulti1 = show("raw curl multi, 1 thread")
let rawMulti2 = show("raw curl multi, 2 threads")
/// The smallest per-round ratio of two modes measured in the same round.
@MainActor
func worstRound(_ numerator: String, _ denominator: String) -> Double {
    zip(results[numerator]!, results[denominator]!).map { $0 / $1 }.min()!
}
print("")
print(String(format: "sequential on the loop executor: / URLSession = %.2f× (worst round %.2f×; target ≥ 4× in every round)", loopSequential / sessionSequential, worstRound("ours on loop, sequential", "URLSession sequential")))
print(String(format: "sequential on the loop executor: / raw curl handle = %.0f%% (target ≥ 80%%)   / ours off it = %.2f×", 100 * loopSequential / rawSequential, loopSequential / oursSequential))
print(String(format: "sequential off it: / URLSession = %.2f×   / raw curl handle = %.0f%%", oursSequential / sessionSequential, 100 * oursSequential / rawSequential))
print(String(format: "concurrent: / wrk (target ≥ 70%%, %d connections): off the loop %.0f%%, on the loop %.0f%%, 2 loops %.0f%%, on 2 loops %.0f%%", options.concurrency, 100 * oursConcurrent / wrkConcurrent, 100 * loopConcurrent / wrkConcurrent, 100 * twoConcurrent / wrkConcurrent, 100 * twoLoopConcurrent / wrkConcurrent))
print(String(format: "concurrent, libcurl's own ceiling: raw multi / wrk = %.0f%% (1 thread), %.0f%% (2 threads)", 100 * rawMulti1 / wrkConcurrent, 100 * rawMulti2 / wrkConcurrent))
print(String(format: "concurrent, ours / raw multi with as many threads: on the loop %.0f%%, on 2 loops %.0f%%", 100 * loopConcurrent / rawMulti1, 100 * twoLoopConcurrent / rawMulti2))
print(String(format: "concurrent: ours / URLSession = %.2f×", oursConcurrent / sessionConcurrent))
