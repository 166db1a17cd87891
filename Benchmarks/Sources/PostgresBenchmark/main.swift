// PostgreSQL backend benchmark, side by side in one run with the filesystem store holding the same
// versions (100 versions per name): get latest, get by version, list by name, list all, deploy and
// delete at each size, each PostgreSQL figure with its ratio to the file store's.
//
// Usage: PostgresBenchmark --uri postgresql://USER@HOST:PORT/DB [--sizes 10000,100000] [--samples N] [--root DIR]
// (Benchmarks/run-postgres-benchmark.sh starts a private PostgreSQL cluster and passes --uri.)

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import FileStoreBackend
import BenchmarkMeasure
import Foundation
import Logging
import MLDeploy
import PostgresBackend

setvbuf(stdout, nil, _IOLBF, 0)

var sizes = [10_000, 100_000]
var samples = 200
var uri = ""
var base = FileManager.default.temporaryDirectory.path
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--sizes": sizes = arguments.next()!.split(separator: ",").map { Int($0)! }
    case "--samples": samples = Int(arguments.next()!)!
    case "--uri": uri = arguments.next()!
    case "--root": base = arguments.next()!
    default: fatalError("usage: PostgresBenchmark --uri postgresql://… [--sizes 10000,100000] [--samples N] [--root DIR]")
    }
}
precondition(!uri.isEmpty, "give the database: --uri postgresql://USER@HOST:PORT/DB")
let versionsPerName = 100

let model = Data((0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31) })
func definition(_ index: Int, version: String? = nil) -> ServiceDefinition {
    ServiceDefinition(
        name: "svc-\(index / versionsPerName)", version: version ?? "v\(index % versionsPerName)", description: "Scores cars, generation \(index)",
        code: "answer = x * 2", models: ["model": .pickled(model + Data("\(index / versionsPerName)".utf8))],
        inputs: [.init(name: "x", type: .numeric)], outputs: [.init(name: "answer", type: .numeric)]
    )
}

let context = BackendContext(configuration: .init(backendName: "bench"), logger: Logger(label: "bench"))
let postgres = PostgresBackend(settings: try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count))), python: nil)
try await postgres.initialize(context: context)
let root = base + "/mldeploy-pg-bench-files-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: root) }
let bulk = FileStore(root: root, python: nil, fsync: false)
try await bulk.initialize(context: context)
let files = FileStore(root: root, python: nil, fsync: true)
try await files.initialize(context: context)

print("PostgreSQL backend benchmark: \(versionsPerName) versions per name, \(samples) samples per figure, beside the filesystem store (fsync'd)")
var populated = 0
for size in sizes {
    let fill = ContinuousClock.now
    // Eight writers at once, as several publishers would be.
    while populated < size {
        let batch = min(size - populated, 64)
        let start = populated
        try await withThrowingTaskGroup(of: Void.self) { group in
            for offset in 0..<batch { group.addTask { _ = try await postgres.deployService(definition(start + offset)) } }
            try await group.waitForAll()
        }
        for offset in 0..<batch { _ = try await bulk.deployService(definition(start + offset)) }
        populated += batch
    }
    print("\n\(size) versions (\(size / versionsPerName) names; populated in \(String(format: "%.0f", seconds(ContinuousClock.now - fill))) s)")
    let names = size / versionsPerName
    var generator = SystemRandomNumberGenerator()
    func randomName() -> String { "svc-\(Int.random(in: 0..<names, using: &generator))" }
    var figures: [String: Double] = [:]
    for (label, backend) in [("pg", postgres as any Backend), ("file", files as any Backend)] {
        figures["get latest \(label)"] = try await measure(samples) { _ in _ = try await backend.getService(randomName(), version: nil) }.median
        figures["get by version \(label)"] = try await measure(samples) { _ in
            _ = try await backend.getService(randomName(), version: "v\(Int.random(in: 0..<versionsPerName, using: &generator))")
        }.median
        figures["list by name \(label)"] = try await measure(samples) { _ in _ = try await backend.listServices(.named(randomName())) }.median
        figures["list all \(label)"] = try await measure(5) { _ in
            let all = try await backend.listServices(.all)
            precondition(all.count == size, "\(label) listed \(all.count) of \(size)")
        }.median
        let deploys = try await measure(samples) { index in _ = try await backend.deployService(definition(index * names / samples * versionsPerName, version: "new-\(index)")) }
        figures["deploy \(label)"] = deploys.median
        figures["deploy p95 \(label)"] = deploys.p95
        figures["delete \(label)"] = try await measure(samples) { index in try await backend.deleteService("svc-\(index * names / samples)", version: "new-\(index)") }.median
    }
    for (label, key, target) in [
        ("get latest", "get latest", 1e-3), ("get by version", "get by version", 1e-3), ("list by name", "list by name", 2e-3),
        ("list all", "list all", 0.5), ("deploy", "deploy", 5e-3), ("  deploy p95", "deploy p95", 0), ("delete", "delete", 0),
    ] {
        let (pg, file) = (figures["\(key) pg"]!, figures["\(key) file"]!)
        var text = "  " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + format(pg).padding(toLength: 11, withPad: " ", startingAt: 0)
        text += "file store " + format(file).padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "%7.2f× the file store's time", pg / file)
        if target > 0 { text += "   target ≤ \(format(target)): \(pg <= target ? "met" : "MISSED")" }
        print(text)
    }
}
try await postgres.shutdown()
