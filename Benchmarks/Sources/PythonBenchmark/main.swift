// Python runtime benchmark, side by side in one run:
//   - per-call overhead: calling a service through PythonRuntime vs calling the same Python function
//     in a plain Python loop (both measured now, on this machine);
//   - throughput of a CPU-bound service with 2 workers vs 1 (8 concurrent callers), at two call sizes;
//   - cold start: the first call of a new version (start python3, load the service, run);
//   - confined (the default, bubblewrap) vs unconfined (`isolation: none`) workers: per-call
//     overhead and cold start, each runtime prepared once beforehand as a server does at start.
//
// Usage: PythonBenchmark [--calls N] [--rounds R]

#if canImport(Glibc)
@preconcurrency import Glibc  // stdout, for setvbuf (a C global Swift 6 cannot vouch for)
#endif
import Foundation
import MLDeploy
import ServiceRuntime

setvbuf(stdout, nil, _IOLBF, 0)  // progress reaches a pipe or log file as it happens

var calls = 3000
var rounds = 3
var onlyOverhead = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--calls": calls = Int(arguments.next()!)!
    case "--rounds": rounds = Int(arguments.next()!)!
    case "--only-overhead": onlyOverhead = true
    default: fatalError("usage: PythonBenchmark [--calls N] [--rounds R]")
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

let initCode = """
    def score(hp, wt):
        return 1.0 / (1.0 + 2.718281828 ** -(18.86630 + 0.03626 * hp - 8.08348 * wt))
    def burn(n):
        total = 0
        for i in range(n):
            total += i * i % 7
        return total
    """
let scalar = PythonService(
    info: ServiceInfo(name: "scalar", version: "1", inputs: [.init(name: "hp", type: .numeric), .init(name: "wt", type: .numeric)],
                      outputs: [.init(name: "p", type: .numeric)], runtime: .python),
    code: "p = score(hp, wt)", initCode: initCode, namespace: [:], revision: "1"
)
let heavy = PythonService(
    info: ServiceInfo(name: "heavy", version: "1", inputs: [.init(name: "n", type: .integer)], outputs: [.init(name: "t", type: .integer)], runtime: .python),
    code: "t = burn(n)", initCode: initCode, namespace: [:], revision: "1"
)

/// Seconds per call of `score` in a plain Python loop, measured by Python itself.
func directPython(_ count: Int) throws -> Double {
    let script = initCode + """

        import time
        start = time.perf_counter()
        for i in range(\(count)):
            score(120.0 + i % 10, 2.8)
        print((time.perf_counter() - start) / \(count))
        """
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    process.standardOutput = output
    try process.run()
    process.waitUntilExit()
    return Double(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
}

func perCall(_ runtime: PythonRuntime, _ count: Int) async throws -> Double {
    let clock = ContinuousClock()
    let started = clock.now
    for index in 0..<count {
        let response = try await runtime.run(scalar, inputs: ["hp": .numeric(120 + Double(index % 10)), "wt": 2.8])
        precondition(response.success)
    }
    return seconds(clock.now - started) / Double(count)
}

func throughput(workers: Int, calls: Int, work: Int) async throws -> Double {
    var configuration = PythonRuntime.Configuration()
    configuration.maximumWorkersPerVersion = workers
    configuration.minimumWorkersPerVersion = workers
    let runtime = PythonRuntime(configuration: configuration)
    try await runtime.warmUp(heavy)
    _ = try await runtime.run(heavy, inputs: ["n": 10])
    let clock = ContinuousClock()
    let started = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<8 {
            group.addTask {
                for _ in stride(from: caller, to: calls, by: 8) {
                    _ = try await runtime.run(heavy, inputs: ["n": .integer(work)])
                }
            }
        }
        try await group.waitForAll()
    }
    let rate = Double(calls) / seconds(clock.now - started)
    await runtime.shutdown()
    return rate
}

nonisolated(unsafe) var coldVersion = 0

/// The first call of a version `runtime` has never run: a new worker starts, loads it and answers.
func coldStart(_ runtime: PythonRuntime, _ service: PythonService) async throws -> Double {
    coldVersion += 1
    var fresh = service
    fresh.info.version = "cold\(coldVersion)"
    let clock = ContinuousClock()
    let started = clock.now
    _ = try await runtime.run(fresh, inputs: service.info.inputs.first?.type == .dataFrame
        ? ["d": .dataFrame(try DataFrame(["x": [1, 2]]))] : ["hp": 120, "wt": 2.8])
    let elapsed = seconds(clock.now - started)
    await runtime.evict(fresh.info.reference)
    return elapsed
}

/// The interpreter's real executable: a `PATH` shim (pyenv's is a shell script) would add its own
/// start-up to every unconfined worker, while confined ones start the real executable.
let realInterpreter: String = {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
    process.standardOutput = output
    try! process.run()
    process.waitUntilExit()
    return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}()

/// A runtime with workers confined or not, its sandbox prepared (as a server does before it listens).
func makeRuntime(_ isolation: PythonIsolation) async throws -> PythonRuntime {
    var configuration = PythonRuntime.Configuration(interpreter: realInterpreter)
    configuration.isolation = isolation
    let runtime = PythonRuntime(configuration: configuration)
    print("\(isolation): \(try await runtime.checkConfinement())")
    return runtime
}

let pandasService = PythonService(
    info: ServiceInfo(name: "frame", version: "1", inputs: [.init(name: "d", type: .dataFrame)], outputs: [.init(name: "n", type: .integer)], runtime: .python),
    code: "n = len(d)", initCode: nil, namespace: [:], revision: "1"
)

let runtime = try await makeRuntime(.sandbox)
let plain = try await makeRuntime(.none)
_ = try await perCall(runtime, 200)  // warm up: worker started and loaded
_ = try await perCall(plain, 200)
if onlyOverhead {  // a profiling aid
    print(String(format: "%.1f µs per call", try await perCall(runtime, calls) * 1e6))
    await runtime.shutdown()
    exit(0)
}
var direct: [Double] = [], ours: [Double] = [], oursPlain: [Double] = [], one: [Double] = [], two: [Double] = []
var cold: [Double] = [], coldPlain: [Double] = [], coldPandas: [Double] = [], coldPandasPlain: [Double] = []
var oneLong: [Double] = [], twoLong: [Double] = []
for round in 1...rounds {
    direct.append(try directPython(calls * 10))
    ours.append(try await perCall(runtime, calls))
    oursPlain.append(try await perCall(plain, calls))
    one.append(try await throughput(workers: 1, calls: 1_000, work: 20_000))
    two.append(try await throughput(workers: 2, calls: 1_000, work: 20_000))
    oneLong.append(try await throughput(workers: 1, calls: 250, work: 100_000))
    twoLong.append(try await throughput(workers: 2, calls: 250, work: 100_000))
    for _ in 0..<3 {  // interleaved, so load swings hit both alike
        cold.append(try await coldStart(runtime, scalar))
        coldPlain.append(try await coldStart(plain, scalar))
        coldPandas.append(try await coldStart(runtime, pandasService))
        coldPandasPlain.append(try await coldStart(plain, pandasService))
    }
    FileHandle.standardError.write(Data("round \(round) done\n".utf8))
}
await runtime.shutdown()
await plain.shutdown()

let overhead = median(ours) - median(direct)
print("Python runtime benchmark — \(calls) sequential calls; 1,000 (~1 ms) and 250 (~4 ms) CPU-bound calls with 8 callers; \(rounds) rounds, medians")
print(String(format: "direct Python call of the function   %8.1f µs", median(direct) * 1e6))
print(String(format: "call through PythonRuntime (confined) %8.1f µs", median(ours) * 1e6))
print(String(format: "call through PythonRuntime (none)     %8.1f µs", median(oursPlain) * 1e6))
print(String(format: "added per call (confined)             %8.1f µs   (target ≤ 300 µs)", overhead * 1e6))
print(String(format: "  per call confined / none            %8.2f×      (target: unchanged within noise)", median(ours) / median(oursPlain)))
print(String(format: "CPU-bound ~1 ms calls, 1 worker       %8.1f calls/s", median(one)))
print(String(format: "CPU-bound ~1 ms calls, 2 workers      %8.1f calls/s", median(two)))
print(String(format: "  2 workers / 1 worker                %8.2f×      (target ≥ 1.8×)", median(two) / median(one)))
print(String(format: "CPU-bound ~4 ms calls, 1 worker       %8.1f calls/s", median(oneLong)))
print(String(format: "CPU-bound ~4 ms calls, 2 workers      %8.1f calls/s", median(twoLong)))
print(String(format: "  2 workers / 1 worker                %8.2f×      (target ≥ 1.8×)", median(twoLong) / median(oneLong)))
print(String(format: "cold start, scalar service, confined  %8.1f ms", median(cold) * 1e3))
print(String(format: "cold start, scalar service, none      %8.1f ms", median(coldPlain) * 1e3))
print(String(format: "  confined − none                     %+8.1f ms   (target ≤ +50 ms)", (median(cold) - median(coldPlain)) * 1e3))
print(String(format: "cold start, pandas service, confined  %8.1f ms", median(coldPandas) * 1e3))
print(String(format: "cold start, pandas service, none      %8.1f ms", median(coldPandasPlain) * 1e3))
print(String(format: "  confined − none                     %+8.1f ms   (target ≤ +50 ms)", (median(coldPandas) - median(coldPandasPlain)) * 1e3))
