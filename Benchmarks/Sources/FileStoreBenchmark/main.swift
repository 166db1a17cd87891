// Filesystem store benchmark, side by side in one run, at 1k, 10k and 100k service versions
// (100 versions per name):
//   - open (a fresh FileStore on the root), and the first full listing after it (cold cache);
//   - list all, list by name, get latest, get by version (warm), and get latest of a name this
//     instance has not read yet (cold);
//   - deploy (fsync'd) and delete;
// beside baselines measured now on the same machine: the in-memory backend holding the same
// versions (reads), and one bare atomic fsync'd file write of a manifest's size (deploy's floor).
//
// Usage: FileStoreBenchmark [--sizes 1000,10000,100000] [--root DIR] [--samples N]

#if canImport(Glibc)
@preconcurrency import Glibc  // stdout, for setvbuf (a C global Swift 6 cannot vouch for)
#endif
import FileStoreBackend
import BenchmarkMeasure
import Foundation
import InMemoryBackend
import Logging
import MLDeploy

setvbuf(stdout, nil, _IOLBF, 0)  // progress reaches a pipe or log file as it happens

var sizes = [1_000, 10_000, 100_000]
var base = FileManager.default.temporaryDirectory.path
var samples = 200
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--sizes": sizes = arguments.next()!.split(separator: ",").map { Int($0)! }
    case "--root": base = arguments.next()!
    case "--samples": samples = Int(arguments.next()!)!
    default: fatalError("usage: FileStoreBenchmark [--sizes 1000,10000,100000] [--root DIR] [--samples N]")
    }
}
let versionsPerName = 100

let model = Data((0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31) })
func definition(_ index: Int, version: String? = nil) -> ServiceDefinition {
    let name = "svc-\(index / versionsPerName)"
    return ServiceDefinition(
        name: name, version: version ?? "v\(index % versionsPerName)", description: "Scores cars, generation \(index)",
        code: "answer = x * 2", models: ["model": .pickled(model + Data("\(index / versionsPerName)".utf8))],
        inputs: [.init(name: "x", type: .numeric)], outputs: [.init(name: "answer", type: .numeric)]
    )
}

func open(_ root: String, fsync: Bool = true) async throws -> FileStore {
    let store = FileStore(root: root, python: nil, fsync: fsync)
    try await store.initialize(context: BackendContext(configuration: .init(backendName: "filesystem"), logger: Logger(label: "bench")))
    return store
}

/// A bare atomic, durable write of `bytes`: the least any durable deploy costs.
func rawDurableWrite(_ bytes: [UInt8], directory: String, index: Int) {
    let temporary = directory + "/tmp-\(index)", final = directory + "/file-\(index)"
    let descriptor = Foundation.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    fsync(descriptor)
    close(descriptor)
    rename(temporary, final)
    let directoryDescriptor = Foundation.open(directory, O_RDONLY | O_DIRECTORY)
    fsync(directoryDescriptor)
    close(directoryDescriptor)
}

let root = base + "/mldeploy-filestore-bench-\(getpid())"
let rawDirectory = root + "-raw"
try? FileManager.default.removeItem(atPath: root)
try FileManager.default.createDirectory(atPath: rawDirectory, withIntermediateDirectories: true)
defer {
    try? FileManager.default.removeItem(atPath: root)
    try? FileManager.default.removeItem(atPath: rawDirectory)
}
let memory = MemoryBackend(python: nil)
try await memory.initialize(context: BackendContext(configuration: .init(backendName: "memory"), logger: Logger(label: "bench")))
let bulk = try await open(root, fsync: false)

print("File store benchmark: root \(root), \(versionsPerName) versions per name, \(samples) samples per figure")
var populated = 0
var rows: [(size: Int, figures: [String: Double])] = []
for size in sizes {
    let fill = ContinuousClock.now
    while populated < size {
        _ = try await bulk.deployService(definition(populated))
        _ = try await memory.deployService(definition(populated))
        populated += 1
    }
    let fillTime = seconds(ContinuousClock.now - fill)
    let names = size / versionsPerName
    var figures: [String: Double] = [:]
    var generator = SystemRandomNumberGenerator()
    func randomName() -> String { "svc-\(Int.random(in: 0..<names, using: &generator))" }

    figures["open"] = try await measure(5) { _ in _ = try await open(root) }.median
    figures["first list all"] = try await measure(3) { _ in _ = try await open(root).listServices(.all) }.median
    let store = try await open(root)
    let all = try await store.listServices(.all)
    precondition(all.count == size, "listed \(all.count) of \(size)")
    figures["list all"] = try await measure(5) { _ in _ = try await store.listServices(.all) }.median
    figures["list all (memory)"] = try await measure(5) { _ in _ = try await memory.listServices(.all) }.median
    figures["list by name"] = try await measure(samples) { _ in _ = try await store.listServices(.named(randomName())) }.median
    figures["list by name (memory)"] = try await measure(samples) { _ in _ = try await memory.listServices(.named(randomName())) }.median
    figures["get latest"] = try await measure(samples) { _ in _ = try await store.getService(randomName(), version: nil) }.median
    figures["get latest (memory)"] = try await measure(samples) { _ in _ = try await memory.getService(randomName(), version: nil) }.median
    figures["get by version"] = try await measure(samples) { _ in
        _ = try await store.getService(randomName(), version: "v\(Int.random(in: 0..<versionsPerName, using: &generator))")
    }.median
    figures["get by version (memory)"] = try await measure(samples) { _ in
        _ = try await memory.getService(randomName(), version: "v\(Int.random(in: 0..<versionsPerName, using: &generator))")
    }.median
    let cold = try await open(root)
    figures["get latest, cold name"] = try await measure(min(samples, names)) { index in _ = try await cold.getService("svc-\(index)", version: nil) }.median

    let deploys = try await measure(samples) { index in _ = try await store.deployService(definition(index * names / samples * versionsPerName, version: "new-\(index)")) }
    figures["deploy"] = deploys.median
    figures["deploy p95"] = deploys.p95
    let manifestSize = try Data(contentsOf: URL(fileURLWithPath: "\(root)/services/svc-0/new-0.json")).count
    let manifest = [UInt8](repeating: 0x20, count: manifestSize)
    figures["raw durable write"] = try await measure(samples) { index in rawDurableWrite(manifest, directory: rawDirectory, index: index) }.median
    let deletes = try await measure(samples) { index in try await store.deleteService("svc-\(index * names / samples)", version: "new-\(index)") }
    figures["delete"] = deletes.median
    figures["delete p95"] = deletes.p95
    rows.append((size, figures))

    print("\n\(size) versions (\(names) names; populated \(String(format: "%.0f", Double(size - (rows.count > 1 ? rows[rows.count - 2].size : 0)) / fillTime))/s without fsync)")
    func line(_ label: String, _ key: String, target: Double? = nil, baseline: String? = nil) {
        var text = "  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + format(figures[key]!).padding(toLength: 11, withPad: " ", startingAt: 0)
        if let baseline, let other = figures[baseline] {
            text += String(format: "%7.1f× %@ (%@)", figures[key]! / other, baseline, format(other))
        }
        if let target { text += "   target ≤ \(format(target)): \(figures[key]! <= target ? "met" : "MISSED")" }
        print(text)
    }
    line("open", "open", target: 1)
    line("first list all", "first list all")
    line("list all", "list all", target: 0.3, baseline: "list all (memory)")
    line("list by name", "list by name", baseline: "list by name (memory)")
    line("get latest", "get latest", target: 1e-3, baseline: "get latest (memory)")
    line("get by version", "get by version", target: 1e-3, baseline: "get by version (memory)")
    line("get latest, cold name", "get latest, cold name", target: 1e-3)
    line("deploy (fsync'd)", "deploy", target: 5e-3, baseline: "raw durable write")
    line("  p95", "deploy p95")
    line("delete", "delete", baseline: "raw durable write")
    line("  p95", "delete p95")
}

if rows.count > 1 {
    print("\nGrowth (time at each size ÷ time at \(rows[0].size)):")
    for key in ["open", "first list all", "list all", "list by name", "get latest", "get by version", "get latest, cold name", "deploy", "delete"] {
        let growth = rows.map { String(format: "%6.2f", $0.figures[key]! / rows[0].figures[key]!) }.joined(separator: "  ")
        print("  " + key.padding(toLength: 24, withPad: " ", startingAt: 0) + growth)
    }
}
