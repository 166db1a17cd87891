// HTTP client benchmark: requests per second against one fast local endpoint, for
//   - MLDeployHTTP's HTTPClient (the full middleware chain, one loop thread),
//   - Foundation's URLSession,
//   - one reused raw libcurl easy handle in C (the sequential ceiling of libcurl itself),
//   - wrk (the concurrent ceiling of the endpoint),
// sequentially and 16-way concurrently, rounds interleaved, reported as medians and ratios.
//
// Usage: HTTPBenchmark URL [--requests N] [--rounds R] [--concurrency C] [--wrk-seconds S]

import Foundation
import MLDeploy
import MLDeployHTTP
import RawCurl
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct Options {
    var url = ""
    var requests = 5000
    var rounds = 3
    var concurrency = 16
    var wrkSeconds = 5
    var only: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--requests": self.requests = Int(iterator.next()!)!
            case "--rounds": self.rounds = Int(iterator.next()!)!
            case "--concurrency": self.concurrency = Int(iterator.next()!)!
            case "--wrk-seconds": self.wrkSeconds = Int(iterator.next()!)!
            case "--only": self.only = iterator.next()!
            default: self.url = argument
            }
        }
        precondition(!self.url.isEmpty, "usage: HTTPBenchmark URL [--requests N] [--rounds R] [--concurrency C] [--wrk-seconds S]")
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

func rate(_ requests: Int, _ body: () async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let elapsed = try await clock.measure { try await body() }
    let (seconds, attoseconds) = elapsed.components
    return Double(requests) / (Double(seconds) + Double(attoseconds) / 1e18)
}

/// Runs `count` calls of `call` spread over `concurrency` tasks and returns calls per second.
func spread(count: Int, concurrency: Int, _ call: @escaping @Sendable () async throws -> Void) async throws -> Double {
    try await rate(count) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                let share = count / concurrency + (worker < count % concurrency ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await call() }
                }
            }
            try await group.waitForAll()
        }
    }
}

func ours(_ client: HTTPClient, _ request: HTTPRequest, count: Int, concurrency: Int) async throws -> Double {
    try await spread(count: count, concurrency: concurrency) {
        let response = try await client.send(request)
        guard response.status == 200, !response.bytes.isEmpty else { throw Failure(description: "HTTPClient got \(response.status)") }
    }
}

func urlSession(_ session: URLSession, _ url: URL, count: Int, concurrency: Int) async throws -> Double {
    try await spread(count: count, concurrency: concurrency) {
        let (data, response) = try await session.data(from: url)
        guard (response as? HTTPURLResponse)?.statusCode == 200, !data.isEmpty else { throw Failure(description: "URLSession failed") }
    }
}

func rawCurl(_ url: String, count: Int) async throws -> Double {
    try await rate(count) {
        guard raw_curl_sequential(url, Int32(count)) > 0 else { throw Failure(description: "raw curl failed") }
    }
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

let options = Options(CommandLine.arguments)
var configuration = HTTPClient.Configuration()
configuration.proxy = .none
let client = HTTPClient(configuration: configuration)
let request = try HTTPRequest(.get, options.url)
let sessionConfiguration = URLSessionConfiguration.ephemeral
sessionConfiguration.connectionProxyDictionary = [:]
let session = URLSession(configuration: sessionConfiguration)
let url = URL(string: options.url)!

// Profiling aid: run one of our modes alone, for a profiler to sample.
if let only = options.only {
    let concurrency = only == "sequential" ? 1 : options.concurrency
    for _ in 0..<options.rounds {
        print(only, try await ours(client, request, count: options.requests, concurrency: concurrency))
    }
    await client.shutdown()
    exit(0)
}

// Warm up every client (connections, handle pools, lazy initialization).
_ = try await ours(client, request, count: 200, concurrency: options.concurrency)
_ = try await urlSession(session, url, count: 200, concurrency: options.concurrency)
_ = try await rawCurl(options.url, count: 200)

var results: [String: [Double]] = [:]
for round in 1...options.rounds {
    results["ours sequential", default: []].append(try await ours(client, request, count: options.requests, concurrency: 1))
    results["URLSession sequential", default: []].append(try await urlSession(session, url, count: options.requests, concurrency: 1))
    results["raw curl handle sequential", default: []].append(try await rawCurl(options.url, count: options.requests))
    results["ours concurrent", default: []].append(try await ours(client, request, count: options.requests * 2, concurrency: options.concurrency))
    results["URLSession concurrent", default: []].append(try await urlSession(session, url, count: options.requests * 2, concurrency: options.concurrency))
    results["wrk concurrent", default: []].append(try wrk(options.url, connections: options.concurrency, seconds: options.wrkSeconds))
    FileHandle.standardError.write(Data("round \(round) done\n".utf8))
}
await client.shutdown()

@MainActor
func show(_ name: String) -> Double {
    let values = results[name]!
    let formatted = values.map { String(format: "%.0f", $0) }.joined(separator: " / ")
    let label = name.padding(toLength: 28, withPad: " ", startingAt: 0)
    print(label + String(format: "%10.0f req/s   (rounds: %@)", median(values), formatted as NSString))
    return median(values)
}

print("HTTP client benchmark — \(options.url), \(options.requests) sequential / \(options.requests * 2) concurrent requests per round, \(options.rounds) rounds, medians")
print("libcurl: \(HTTPClient.libcurlVersion)")
let oursSequential = show("ours sequential")
let sessionSequential = show("URLSession sequential")
let rawSequential = show("raw curl handle sequential")
let oursConcurrent = show("ours concurrent")
let sessionConcurrent = show("URLSession concurrent")
let wrkConcurrent = show("wrk concurrent")
print("")
print(String(format: "sequential: ours / URLSession      = %.2f×   (target ≥ 4×)", oursSequential / sessionSequential))
print(String(format: "sequential: ours / raw curl handle = %.0f%%    (target ≥ 80%%)", 100 * oursSequential / rawSequential))
print(String(format: "concurrent: ours / wrk             = %.0f%%    (target ≥ 70%%, %d connections)", 100 * oursConcurrent / wrkConcurrent, options.concurrency))
print(String(format: "concurrent: ours / URLSession      = %.2f×", oursConcurrent / sessionConcurrent))
