// Plugin benchmark: the same memory backend in-process and behind the plugin boundary
// (`mldeploy-backend-bench`, built beside this executable), side by side in one run:
//   - a Swift-handler service's consume, sequential: what one plugin round trip adds per call;
//   - getService, sequential: the bare round trip with the smallest answer;
//   - a Python service's consume, sequential and with 8 callers at once: the plugin's share of a
//     real call.
// Rounds alternate which side goes first; each figure is min/median/max over the rounds.
//
// Usage: PluginBenchmark [--rounds 5] [--calls 5000]

#if canImport(Glibc)
@preconcurrency import Glibc  // stdout, for setvbuf (a C global Swift 6 cannot vouch for)
#endif
import BenchmarkMeasure
import Foundation
import InMemoryBackend
import MLDeploy
import MLDeployPlugin
import ServiceRuntime

setvbuf(stdout, nil, _IOLBF, 0)

var rounds = 5
var calls = 5000
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--rounds": rounds = Int(arguments.next()!)!
    case "--calls": calls = Int(arguments.next()!)!
    default: fatalError("usage: PluginBenchmark [--rounds 5] [--calls 5000]")
    }
}

// The same handler as the plugin links (by name); in-process, the definition's own closure runs.
let add = ServiceHandler("add") { call in
    call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b"))
}
HandlerRegistry.shared.register(add)
let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
let registry = BackendRegistry()
registry.enablePluginDiscovery(PluginSettings(searchPaths: [here], searchesEnvironment: false))

let inProcess = try await DeployClient(target: .backend(MemoryBackend()))
let plugin = try await DeployClient(target: "bench:", registry: registry)
let sides = [("in-process", inProcess), ("plugin", plugin)]

var swiftServices: [String: Service] = [:]
var pythonServices: [String: Service] = [:]
for (name, client) in sides {
    swiftServices[name] = try await client.service("adder").version("1").handler(add)
        .inputs(["a": .numeric, "b": .numeric]).outputs(["sum": .numeric]).deploy()
    pythonServices[name] = try await client.service("doubler").version("1").code("y = x * 2")
        .inputs(["x": .numeric]).outputs(["y": .numeric]).deploy()
}

/// Seconds per call for `count` calls of `body`, with `width` callers at once.
func perCall(_ count: Int, width: Int = 1, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<width {
            group.addTask {
                var index = lane
                while index < count {
                    try await body(index)
                    index += width
                }
            }
        }
        try await group.waitForAll()
    }
    return seconds(ContinuousClock.now - start) / Double(count)
}

struct Figure {
    var label: String
    var count: Int
    var width: Int
    var body: @Sendable (String, Int) async throws -> Void
}

let figures = [
    Figure(label: "Swift handler consume", count: calls, width: 1) { side, index in
        let result = try await swiftServices[side]!.consume(["a": .numeric(Double(index)), "b": 1])
        precondition(result.output("sum") == .numeric(Double(index) + 1))
    },
    Figure(label: "getService", count: calls, width: 1) { side, _ in
        _ = try await sides.first { $0.0 == side }!.1.getService("adder", version: "1")
    },
    Figure(label: "Python consume, sequential", count: calls / 5, width: 1) { side, index in
        let result = try await pythonServices[side]!.consume(["x": .numeric(Double(index))])
        precondition(result.output("y") == .numeric(Double(index) * 2))
    },
    Figure(label: "Python consume, 8 callers", count: calls / 2, width: 8) { side, index in
        let result = try await pythonServices[side]!.consume(["x": .numeric(Double(index))])
        precondition(result.output("y") == .numeric(Double(index) * 2))
    },
]

print("Plugin benchmark: \(rounds) rounds, sides alternating; load average \(String((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.prefix(14) ?? "?"))")
for figure in figures {
    // Warm both sides (workers started, caches filled).
    for (side, _) in sides { _ = try await perCall(min(500, figure.count), width: figure.width) { try await figure.body(side, $0) } }
    var times: [String: [Double]] = ["in-process": [], "plugin": []]
    for round in 0..<rounds {
        let order = round % 2 == 0 ? sides.map(\.0) : sides.map(\.0).reversed()
        for side in order {
            times[side]!.append(try await perCall(figure.count, width: figure.width) { try await figure.body(side, $0) })
        }
    }
    func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        return "\(format(sorted.first!)) / \(format(sorted[sorted.count / 2])) / \(format(sorted.last!))"
    }
    let local = times["in-process"]!, remote = times["plugin"]!
    let added = zip(local, remote).map { $1 - $0 }
    let ratios = zip(local, remote).map { $0 / $1 }.sorted()
    print("\(figure.label) (\(figure.count) calls, \(figure.width) at once), per call min/median/max:")
    print("  in-process \(summary(local));  plugin \(summary(remote))")
    print("  plugin adds \(summary(added)) per call; plugin throughput / in-process: \(String(format: "%.2f× / %.2f× / %.2f×", ratios.first!, ratios[ratios.count / 2], ratios.last!))")
}
try await plugin.shutdown()
try await inProcess.shutdown()
