// `mldeploy serve` throughput and latency beside Seldon MLServer, in one run on this machine:
//   - wrk (2 threads, 16 connections) against consume of a trivial Python service and of a Swift
//     handler on our server, and against MLServer's V2 inference endpoint serving an equivalent
//     trivial custom Python model — in-process (`parallel_workers: 0`) and with two parallel
//     inference workers (its default mode): requests per second, p50, p99;
//   - then each target paced at half its measured maximum rate (open loop, latency measured from
//     each request's scheduled time, so a stall counts against the server): p50, p99.
//
// Usage: ServerBenchmark --mlserver PATH-TO-mlserver [--seconds S] [--connections C]
//        ServerBenchmark serve PORT-FILE   (internal: the server process the driver starts)

#if canImport(Glibc)
@preconcurrency import Glibc  // stdout, for setvbuf (a C global Swift 6 cannot vouch for)
#endif
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
import ServiceRuntime

// MARK: The server process

func serve(portFile: String) async throws {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
    let data = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: data) }
    try await withDeployClient(target: .backend(MemoryBackend(python: .init()))) { client in
        _ = try await client.service("trivial").version("1").code("y = x * 2").inputs(["x": .numeric]).outputs(["y": .numeric]).deploy()
        _ = try await client.service("swift").version("1")
            .handler("double") { call in call.outputs["y"] = .numeric(try call.numeric("x") * 2) }
            .inputs(["x": .numeric]).outputs(["y": .numeric]).deploy()
        try await serveForBenchmark(client, dataDirectory: data, portFile: portFile)
    }
}

setvbuf(stdout, nil, _IOLBF, 0)  // progress reaches a log file as it happens

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "serve" {
    try await serve(portFile: CommandLine.arguments[2])
    exit(0)
}

// MARK: The driver

var mlserverBinary: String?
nonisolated(unsafe) var seconds = 10
nonisolated(unsafe) var connections = 16
// Debugging aid: `ServerBenchmark pace URL TOKEN RATE` paces one of our consume URLs alone
// (MLDEPLOY_PACE_WARMUP=0: without the warm-up, so the server's metrics hold the paced calls alone;
// MLDEPLOY_PACE_BODY: a request body other than `{"x": 21.0}`, a realtime service's frame, say;
// MLDEPLOY_PACER=client: the client pacer of earlier runs).
if CommandLine.arguments.count == 5, CommandLine.arguments[1] == "pace" {
    let (url, token, rate) = (CommandLine.arguments[2], CommandLine.arguments[3], Double(CommandLine.arguments[4])!)
    let warmUp = ProcessInfo.processInfo.environment["MLDEPLOY_PACE_WARMUP"] != "0"
    let body = ProcessInfo.processInfo.environment["MLDEPLOY_PACE_BODY"] ?? #"{"x": 21.0}"#
    let result = try await pace(Target(label: url, url: url, body: body, headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"]), rate: rate, warmUp: warmUp)
    print(String(format: "%.0f/s p50 %.2f ms p99 %.2f ms p99.9 %.2f ms (the pacer's own lateness: p99 %.2f ms)", result.rate, result.p50, result.p99, result.p999, result.lateP99))
    exit(0)
}

var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--mlserver": mlserverBinary = arguments.next()
    case "--seconds": seconds = Int(arguments.next()!)!
    case "--connections": connections = Int(arguments.next()!)!
    default: fatalError("usage: ServerBenchmark --mlserver PATH [--seconds S] [--connections C]")
    }
}
guard let mlserverBinary else { fatalError("--mlserver PATH is required (Benchmarks/run-server-benchmark.sh installs it)") }

/// Waits until `url` answers `GET` (any status below 500), up to 60 s.
func waitUntilUp(_ url: String) async throws {
    for _ in 0..<600 {
        if let (_, response) = try? await URLSession.shared.data(from: URL(string: url)!), let http = response as? HTTPURLResponse, http.statusCode < 500 { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    fatalError("\(url) never came up")
}

struct Target {
    let label: String
    let url: String
    let body: String
    let headers: [String: String]
}

struct Measurement {
    var rate = 0.0
    var p50 = 0.0
    var p99 = 0.0
    var p999 = 0.0
    var lateP99 = 0.0
}

/// wrk at full speed: requests per second and latency percentiles (ms).
func saturate(_ target: Target) throws -> Measurement {
    let result = try wrkPost(target.url, body: target.body, headers: target.headers, connections: connections, seconds: seconds)
    if result.failed || ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil { print("  wrk on \(target.label):\n\(result.text)") }
    return Measurement(rate: result.rate, p50: result.p50, p99: result.p99)
}

/// An open-loop load at `rate` per second for `seconds`: each request is sent at its scheduled time
/// and its latency counted from then, so a stall counts against the server. The sender is the
/// pacer `MLDEPLOY_PACER` names (`pacedPost`; by default libcurl in C on a timer-woken thread of its
/// own): URLSession on Linux cannot send a few thousand requests a second, and its own queueing
/// would be measured instead of the server.
func pace(_ target: Target, rate: Double, warmUp: Bool = true) async throws -> Measurement {
    let result = try await pacedPost(target.url, body: target.body, headers: target.headers, rate: rate, seconds: seconds, warmUp: warmUp)
    return Measurement(rate: result.rate, p50: result.p50, p99: result.p99, p999: result.p999, lateP99: result.lateP99)
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
}

// Our server, in a process of its own. Both servers run the way their docs recommend for
// production and alike: no access log (ours logs nothing here; MLServer's `debug: false` turns
// uvicorn's access log off), no metrics endpoint (MLServer's `metrics_endpoint: null`).
let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("bench-port-\(getpid())").path
let ours = try GuardedProcess(CommandLine.arguments[0], ["serve", portFile])
defer { ours.stop() }
var port = ""
for _ in 0..<600 where port.isEmpty {
    port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
    if port.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
}
let base = "http://127.0.0.1:\(port)"
try await waitUntilUp(base + "/status")
var login = URLRequest(url: URL(string: base + "/login")!)
login.httpMethod = "POST"
login.httpBody = Data(#"{"username": "bench", "password": "bench"}"#.utf8)
let token = try JSONValue(parsing: try await URLSession.shared.data(for: login).0)["access_token"]!.stringValue!

/// Seldon MLServer serving the equivalent trivial custom Python model with `parallelWorkers`
/// inference workers (0: in the server process), started and stopped around one measurement.
struct SeldonPeer {
    let label: String
    let parallelWorkers: Int
    let port: Int

    var target: Target {
        Target(label: self.label, url: "http://127.0.0.1:\(self.port)/v2/models/trivial/infer",
               body: #"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [21.0]}]}"#, headers: ["Content-Type": "application/json"])
    }

    func start(binary: String) async throws -> (GuardedProcess, URL) {
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("mlserver-bench-\(getpid())-\(self.parallelWorkers)")
        try FileManager.default.createDirectory(at: models.appendingPathComponent("trivial"), withIntermediateDirectories: true)
        try #"{"http_port": \#(self.port), "grpc_port": \#(self.port + 1), "metrics_port": \#(self.port + 2), "parallel_workers": \#(self.parallelWorkers), "host": "127.0.0.1", "debug": false, "metrics_endpoint": null}"#
            .write(to: models.appendingPathComponent("settings.json"), atomically: true, encoding: .utf8)
        try #"{"name": "trivial", "implementation": "model.TrivialModel"}"#
            .write(to: models.appendingPathComponent("trivial/model-settings.json"), atomically: true, encoding: .utf8)
        try """
            from mlserver import MLModel
            from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

            class TrivialModel(MLModel):
                async def load(self) -> bool:
                    return True

                async def predict(self, payload: InferenceRequest) -> InferenceResponse:
                    x = payload.inputs[0].data[0]
                    return InferenceResponse(model_name=self.name, outputs=[ResponseOutput(name="y", shape=[1], datatype="FP64", data=[x * 2])])
            """.write(to: models.appendingPathComponent("trivial/model.py"), atomically: true, encoding: .utf8)
        let process = try GuardedProcess(binary, ["start", models.path], directory: models.path, log: models.appendingPathComponent("mlserver.log").path)
        try await waitUntilUp("http://127.0.0.1:\(self.port)/v2/health/ready")
        return (process, models)
    }
}
let peers = [
    SeldonPeer(label: "Seldon MLServer, in-process", parallelWorkers: 0, port: Int(port)! + 1),
    SeldonPeer(label: "Seldon MLServer, 2 parallel workers", parallelWorkers: 2, port: Int(port)! + 4),
]

let bearer = ["Authorization": "Bearer \(token)", "Content-Type": "application/json"]
let ourTargets = [
    Target(label: "ours: Python service", url: base + "/api/trivial/1", body: #"{"x": 21.0}"#, headers: bearer),
    Target(label: "ours: Swift handler", url: base + "/api/swift/1", body: #"{"x": 21.0}"#, headers: bearer),
]

// The pacer (on the same two vCPUs as the servers) sends up to its clean rate; beyond that it
// measures itself. A target whose half-maximum is higher is paced at the cap, and the table says so.
let pacerCap = Pacer.configured.cleanRate
print("Server benchmark: wrk -t2 -c\(connections) for \(seconds) s per target, then each paced at half its maximum")
print("Both servers without an access log or a metrics endpoint; one server measured at a time.")
print("Pacer: \(Pacer.configured.label), at most \(Int(pacerCap))/s")
var saturated: [String: Measurement] = [:]
var paced: [String: Measurement] = [:]
@MainActor func measure(_ target: Target) async throws {
    _ = try saturate(target)  // warm-up
    let result = try saturate(target)
    saturated[target.label] = result
    print(String(format: "  %@: %.0f req/s, p50 %.2f ms, p99 %.2f ms", target.label, result.rate, result.p50, result.p99))
    guard result.rate.isFinite, result.rate > 0 else { fatalError("wrk measured nothing for \(target.label)") }
    paced[target.label] = try await pace(target, rate: min(pacerCap, result.rate / 2))
}
for target in ourTargets { try await measure(target) }
for peer in peers {
    let (process, models) = try await peer.start(binary: mlserverBinary)
    do {
        try await measure(peer.target)
    } catch {
        print("  \(peer.label) failed: \(error); its log: \(models.appendingPathComponent("mlserver.log").path)")
        throw error
    }
    process.stop()
    try? FileManager.default.removeItem(at: models)
}

let labels = ourTargets.map(\.label) + peers.map(\.label)
print("\n| target | max req/s | p50 (ms) | p99 (ms) | paced at | p50 (ms) | p99 (ms) | p99.9 (ms) | pacer late, p99 (ms) |")
print("|---|---|---|---|---|---|---|---|---|")
for label in labels {
    let full = saturated[label]!, half = paced[label]!
    let capped = full.rate / 2 > pacerCap ? " (cap)" : ""
    print(String(format: "| %@ | %.0f | %.2f | %.2f | %.0f/s%@ | %.2f | %.2f | %.2f | %.2f |", label, full.rate, full.p50, full.p99, half.rate, capped, half.p50, half.p99, half.p999, half.lateP99))
}
let python = saturated["ours: Python service"]!.rate
for peer in peers {
    let rate = saturated[peer.label]!.rate
    print(String(format: "\nPython-service consume / %@: %.2f× (target ≥ 1×: %@)", peer.label, python / rate, python >= rate ? "met" : "NOT met"))
}
print(String(format: "p99 at half the maximum rate, Python service: %.2f ms (target ≤ 5 ms: %@); p99.9 %.2f ms", paced["ours: Python service"]!.p99, paced["ours: Python service"]!.p99 <= 5 ? "met" : "NOT met", paced["ours: Python service"]!.p999))
print(String(format: "p99 paced at %.0f/s, Swift handler: %.2f ms", paced["ours: Swift handler"]!.rate, paced["ours: Swift handler"]!.p99))
