// MLServer backend benchmark: consume of a trivial Swift-handler service on one `mldeploy serve`
// (a child process of this binary), in one run, rounds interleaved, medians and ratios:
//   - sequential requests per second: our MLServer backend (`Service.consume` through DeployClient,
//     MLServerBackend and MLDeployHTTP) against the unmodified Python SDK consuming in a loop
//     (`service.double(21.0)`: the SDK names the method after the alias; see
//     Benchmarks/Resources/sdk_consume_loop.py, one process per round);
//   - concurrent requests per second: our backend from C tasks sharing one client against
//     `wrk -t2 -cC` sending the same request (`POST /api/swift/1`, `{"x": 21.0}`, bearer token).
// Two references in the same rounds say where the time goes: the same request sent by MLDeployHTTP
// alone (no backend layer; sequential and concurrent), and wrk on one connection (the sequential
// ceiling of the server on this machine).
//
// Usage: MLServerBackendBenchmark --sdk-python PATH [--sdk-script PATH] [--requests N]
//            [--sdk-calls N] [--rounds R] [--concurrency C] [--wrk-seconds S] [--only sequential|concurrent]
//        MLServerBackendBenchmark serve PORT-FILE   (internal: the server process the driver starts)

import BenchmarkSupport
import Foundation
import InMemoryBackend
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MLDeploy
import MLDeployHTTP
import MLDeployServer
import MLServerBackend

// MARK: The server process

/// Serves the Swift-handler service `swift` version `1` (`y = 2x`) over the memory backend, with
/// the owner `bench`/`bench`, and writes the port it listens on to `portFile`. Its data directory
/// is removed by the driver, which stops it with SIGTERM.
func serve(portFile: String) async throws {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
    let data = dataDirectory(of: getpid())
    try await withDeployClient(target: .backend(MemoryBackend(python: .init()))) { client in
        _ = try await client.service("swift").version("1")
            .handler("double") { call in call.outputs["y"] = .numeric(try call.numeric("x") * 2) }
            .inputs(["x": .numeric]).outputs(["y": .numeric]).deploy()
        try await serveForBenchmark(client, dataDirectory: data, portFile: portFile)
    }
}

/// The server process's data directory.
func dataDirectory(of pid: Int32) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("mlserver-backend-bench-\(pid)").path
}

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "serve" {
    try await serve(portFile: CommandLine.arguments[2])
    exit(0)
}

// MARK: The driver

struct Options {
    var sdkPython = ""
    /// Benchmarks/Resources/sdk_consume_loop.py, found from this source file's path by default.
    var sdkScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Resources/sdk_consume_loop.py").standardized.path
    var requests = 5000
    var sdkCalls = 2000
    var rounds = 3
    var concurrency = 16
    var wrkSeconds = 10
    var only: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--sdk-python": self.sdkPython = iterator.next()!
            case "--sdk-script": self.sdkScript = iterator.next()!
            case "--requests": self.requests = Int(iterator.next()!)!
            case "--sdk-calls": self.sdkCalls = Int(iterator.next()!)!
            case "--rounds": self.rounds = Int(iterator.next()!)!
            case "--concurrency": self.concurrency = Int(iterator.next()!)!
            case "--wrk-seconds": self.wrkSeconds = Int(iterator.next()!)!
            case "--only": self.only = iterator.next()!
            default: fatalError("unknown argument \(argument); see the usage at the top of main.swift")
            }
        }
        precondition(!self.sdkPython.isEmpty || self.only != nil, "--sdk-python PATH is required (Benchmarks/run-mlserver-backend-benchmark.sh passes .venv-sdk's)")
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

/// Prints a line and flushes, so progress shows when the output is piped.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Runs `executable` to completion and returns its standard output; fails on a non-zero exit.
func output(of executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else { throw Failure(description: "\(executable) exited with \(process.terminationStatus):\n\(text)") }
    return text
}

/// Calls `call` `count` times spread over `concurrency` tasks; returns calls per second.
func rate(count: Int, concurrency: Int, _ call: @escaping @Sendable () async throws -> Void) async throws -> Double {
    let elapsed = try await ContinuousClock().measure {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                let share = count / concurrency + (worker < count % concurrency ? 1 : 0)
                group.addTask { for _ in 0..<share { try await call() } }
            }
            try await group.waitForAll()
        }
    }
    let (seconds, attoseconds) = elapsed.components
    return Double(count) / (Double(seconds) + Double(attoseconds) / 1e18)
}

/// Our backend: `service.consume(["x": 21])`, `count` times over `concurrency` tasks.
func ours(_ service: Service, count: Int, concurrency: Int) async throws -> Double {
    try await rate(count: count, concurrency: concurrency) {
        let response = try await service.consume(["x": .numeric(21)])
        guard response.success else { throw Failure(description: "consume failed: \(response.errorMessage ?? "?")") }
    }
}

/// The Python SDK's sequential rate, from one run of the consume-loop script.
func sdk(_ options: Options, base: String) throws -> Double {
    var environment = ProcessInfo.processInfo.environment
    environment["NO_PROXY"] = "127.0.0.1,localhost"  // requests honours *_PROXY; loopback must not go through one
    let text = try output(of: options.sdkPython, [options.sdkScript, base, "bench", "bench", "swift", "1", "\(options.sdkCalls)"], environment: environment)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("REQUESTS_PER_SECOND ") }),
        let value = Double(line.split(separator: " ").last ?? "")
    else { throw Failure(description: "could not read the SDK loop's output:\n\(text)") }
    return value
}

/// The same request sent by MLDeployHTTP's client alone, `count` times over `concurrency` tasks.
func bare(_ http: HTTPClient, _ request: HTTPRequest, count: Int, concurrency: Int) async throws -> Double {
    try await rate(count: count, concurrency: concurrency) {
        let response = try await http.send(request)
        guard response.status == 200 else { throw Failure(description: "POST /api/swift/1 answered \(response.status)") }
    }
}

/// wrk sending our request (`POST /api/swift/1`, bearer token, JSON body): requests per second.
func wrk(_ base: String, token: String, connections: Int, seconds: Int) throws -> Double {
    let result = try wrkPost(base + "/api/swift/1", body: #"{"x": 21.0}"#, headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], connections: connections, seconds: seconds)
    guard !result.failed else { throw Failure(description: "wrk failed or got errors:\n\(result.text)") }
    return result.rate
}

func median(_ values: [Double]) -> Double {
    values.sorted()[values.count / 2]
}

/// Logs in through our backend (`MLServer` by name, from a registry of its own, no proxy), measures,
/// and shuts the client down.
func benchmark(_ options: Options, base: String) async throws {
    let registry = BackendRegistry()
    try registry.register(.mlServer)
    var http = HTTPClient.Configuration()
    http.proxy = .none
    let client = try await DeployClient(
        target: .named("MLServer", host: base), auth: .password(username: "bench", password: "bench"), http: http, registry: registry
    )
    do {
        try await measure(client, options, base: base)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

/// Measures in interleaved rounds and prints medians and ratios.
func measure(_ client: DeployClient, _ options: Options, base: String) async throws {
    let concurrentRequests = options.requests * 10
    let service = try await client.getService("swift", version: "1")
    let first = try await service.consume(["x": .numeric(21)])
    guard first.output("y")?.doubleValue == 42 else { throw Failure(description: "consume answered \(first)") }

    // Profiling aid: one of our modes alone, for a profiler to sample.
    if let only = options.only {
        let concurrency = only == "sequential" ? 1 : options.concurrency
        for _ in 0..<options.rounds {
            say("\(only) \(try await ours(service, count: concurrency == 1 ? options.requests : concurrentRequests, concurrency: concurrency))")
        }
        return
    }

    // The token for wrk and the bare HTTP client, from the same login our backend does.
    var login = URLRequest(url: URL(string: base + "/login")!)
    login.httpMethod = "POST"
    login.setValue("application/json", forHTTPHeaderField: "Content-Type")
    login.httpBody = Data(#"{"username": "bench", "password": "bench"}"#.utf8)
    guard let token = try JSONValue(parsing: try await URLSession.shared.data(for: login).0)["access_token"]?.stringValue else {
        throw Failure(description: "POST /login answered no access_token")
    }
    var configuration = HTTPClient.Configuration()
    configuration.proxy = .none
    let http = HTTPClient(configuration: configuration)
    let headers: HTTPHeaders = ["Authorization": "Bearer \(token)", "Content-Type": "application/json", "Accept": "application/json"]
    let request = try HTTPRequest(.post, base + "/api/swift/1", headers: headers, body: .string(#"{"x": 21.0}"#))

    say(
        "MLServer backend benchmark — \(base), \(options.rounds) rounds: ours \(options.requests) sequential / \(concurrentRequests) concurrent "
            + "(\(options.concurrency) tasks), Python SDK \(options.sdkCalls) sequential, wrk -t2 -c\(options.concurrency) \(options.wrkSeconds) s"
    )
    // Warm-up: connections, and the server's and the client's lazily built state.
    _ = try await ours(service, count: 1000, concurrency: options.concurrency)
    _ = try await bare(http, request, count: 1000, concurrency: options.concurrency)
    _ = try wrk(base, token: token, connections: options.concurrency, seconds: 2)

    var results: [String: [Double]] = [:]
    let modes = [
        "ours sequential", "Python SDK sequential", "MLDeployHTTP alone sequential", "wrk 1 connection",
        "ours concurrent", "MLDeployHTTP alone concurrent", "wrk concurrent",
    ]
    for round in 1...options.rounds {
        let c = options.concurrency
        results[modes[0], default: []].append(try await ours(service, count: options.requests, concurrency: 1))
        results[modes[1], default: []].append(try sdk(options, base: base))
        results[modes[2], default: []].append(try await bare(http, request, count: options.requests, concurrency: 1))
        results[modes[3], default: []].append(try wrk(base, token: token, connections: 1, seconds: options.wrkSeconds))
        results[modes[4], default: []].append(try await ours(service, count: concurrentRequests, concurrency: c))
        results[modes[5], default: []].append(try await bare(http, request, count: concurrentRequests, concurrency: c))
        results[modes[6], default: []].append(try wrk(base, token: token, connections: c, seconds: options.wrkSeconds))
        say("round \(round): " + modes.map { String(format: "%@ %.0f", $0, results[$0]!.last!) }.joined(separator: ", "))
    }

    await http.shutdown()

    say("\n| | req/s (median) | rounds |\n|---|---|---|")
    for mode in modes {
        let rounds = results[mode]!.map { String(format: "%.0f", $0) }.joined(separator: " / ")
        say(String(format: "| %@ | %.0f | %@ |", mode, median(results[mode]!), rounds))
    }
    let medianRate = { (mode: String) in median(results[mode]!) }
    let sequential = medianRate(modes[0]) / medianRate(modes[1])
    let concurrent = medianRate(modes[4]) / medianRate(modes[6])
    say(String(format: "\nsequential: ours / Python SDK = %.1f×   (target ≥ 10×: %@)", sequential, sequential >= 10 ? "met" : "NOT met"))
    say(String(format: "concurrent: ours / wrk        = %.0f%%    (target ≥ 70%%: %@)", 100 * concurrent, concurrent >= 0.7 ? "met" : "NOT met"))
    say(String(format: "references: ours / MLDeployHTTP alone = %.0f%% sequential, %.0f%% concurrent; ours / wrk 1 connection = %.0f%%; wrk 1 connection / Python SDK = %.1f×",
                   100 * medianRate(modes[0]) / medianRate(modes[2]), 100 * medianRate(modes[4]) / medianRate(modes[5]), 100 * medianRate(modes[0]) / medianRate(modes[3]), medianRate(modes[3]) / medianRate(modes[1])))
}

// Our server, in a process of its own, stopped however the benchmark ends.
let options = Options(CommandLine.arguments)
let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("mlserver-bench-port-\(getpid())").path
let server = Process()
server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
server.arguments = ["serve", portFile]
try server.run()
var port = ""
for _ in 0..<600 where port.isEmpty {
    port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
    if port.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
}
try? FileManager.default.removeItem(atPath: portFile)
func stopServer() {
    server.terminate()
    server.waitUntilExit()
    try? FileManager.default.removeItem(atPath: dataDirectory(of: server.processIdentifier))
}
do {
    guard !port.isEmpty else { throw Failure(description: "the server never wrote its port") }
    try await benchmark(options, base: "http://127.0.0.1:\(port)")
    stopServer()
} catch {
    stopServer()
    FileHandle.standardError.write(Data("MLServerBackendBenchmark failed: \(error)\n".utf8))
    exit(1)
}
