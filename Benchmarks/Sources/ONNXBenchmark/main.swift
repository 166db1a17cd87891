// ONNX realtime scoring benchmark (issue 9), side by side in one run on this machine, same models
// and rows (Benchmarks/Resources/onnx_models.py trains them with scikit-learn and exports them with
// skl2onnx: a random forest, gradient boosting, an MLP; 10 float features):
//   1. Engine: `ONNXModel.score` on a 1-row, a 1,000-row and a 10,000-row data frame against
//      onnxruntime's Python `session.run` on the same rows as float32 arrays (default session
//      options, and one intra-op thread for reference), in interleaved rounds (the order
//      alternates), medians: calls/s, rows/s. Two different comparisons, stated as such: at one row
//      it is our engine called from Swift against onnxruntime called through Python (per-call
//      overhead dominates); at 1,000 and 10,000 rows the engines' arithmetic dominates.
//   2. Consume: `mldeploy serve` (MLDeployServer over the memory backend, a child process of this
//      binary) serving each model twice — a realtime service deployed from the ONNX bytes, and a
//      Python service running the same fitted scikit-learn model (pickled) that returns the same
//      columns — loaded by `wrk -t2 -cC` with the same one-row body for S seconds after a warm-up:
//      requests/s, p50, p99, and the ratio realtime / Python service.
//   3. Adaptive batching: the same realtime service with batching off and on (`rtb-<model>`,
//      batches of up to 32 rows, 1 ms wait), each loaded by `wrk -t2 -c64` with one-row bodies;
//      with `--baseline`, also the realtime service of an earlier build's server (the same `serve`
//      subcommand of that build's ONNXBenchmark) under the same load, in the same run.
//   4. Realtime latency at half load: each realtime service paced open loop at half its section-2
//      maximum (at most the pacer's clean rate), and at 4,000/s by both pacers: p50, p99, p99.9 and
//      p99 / p50.
//
// Our engine splits frames of 512 rows or more across every core (models that score rows
// independently, which these are); onnxruntime's default session uses every core too.
//
// Usage: ONNXBenchmark [--python PATH] [--script PATH] [--rounds R] [--seconds S] [--wrk-seconds S]
//            [--warmup-seconds S] [--connections C] [--only engine|consume] [--baseline PATH [--baseline-label L]]
//        ONNXBenchmark --profile MODEL ROWS SECONDS   (our engine alone, for `perf record`)
//        ONNXBenchmark serve PORT-FILE MODELS-DIR      (internal: the server process the driver starts)

import BenchmarkSupport
import Foundation
import InMemoryBackend
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MLDeploy
import MLDeployONNX
import MLDeployServer

/// The Python service's code: the same outputs as the ONNX model's, named as the realtime service
/// names them — a classifier's label and one probability column per class, a regressor's prediction.
let pythonCode = """
    import pandas as pd
    X = inputData.values
    if hasattr(model, 'predict_proba'):
        p = model.predict_proba(X)
        columns = {'output_label': model.classes_[p.argmax(axis=1)]}
        for i, c in enumerate(model.classes_):
            columns['output_probability_%s' % c] = p[:, i]
        outputData = pd.DataFrame(columns)
    else:
        outputData = pd.DataFrame({'variable': model.predict(X)})
    """

/// The model names `onnx_models.py make` wrote to `directory`, in order.
func modelNames(in directory: String) throws -> [(name: String, description: String)] {
    let manifest = try JSONValue(parsing: try Data(contentsOf: URL(fileURLWithPath: directory + "/models.json")))
    return (manifest.arrayValue ?? []).map { ($0["name"]!.stringValue!, $0["description"]?.stringValue ?? "") }
}

// MARK: The server process

/// Adaptive batching of the `rtb-` services: at most this many rows per batch, each call waiting at
/// most this long.
let batchSize = 32, batchWait = "1ms"

func serve(portFile: String, models: String) async throws {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
    let data = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-onnx-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: data) }
    // `rtb-<model>` is `rt-<model>` with adaptive batching (section 3).
    let names = try modelNames(in: models).map(\.0)
    let batching = names.map { "rtb-\($0):\(batchSize):\(batchWait)" }.joined(separator: ",")
    try BackendRegistry.shared.register(.memory)
    try await withDeployClient(target: .uri("memory:", options: ["realtime.batching": batching])) { client in
        for name in names {
            let onnx = try Data(contentsOf: URL(fileURLWithPath: "\(models)/\(name).onnx"))
            _ = try await client.realtimeService("rt-\(name)").version("1").serializedModel(onnx).deploy()
            _ = try await client.realtimeService("rtb-\(name)").version("1").serializedModel(onnx).deploy()
            let pickled = try Data(contentsOf: URL(fileURLWithPath: "\(models)/\(name).pkl"))
            _ = try await client.service("py-\(name)").version("1").code(pythonCode).object("model", pickled: pickled)
                .inputs(["inputData": .dataFrame]).outputs(["outputData": .dataFrame]).deploy()
        }
        try await serveForBenchmark(client, dataDirectory: data, portFile: portFile)
    }
}

if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "serve" {
    try await serve(portFile: CommandLine.arguments[2], models: CommandLine.arguments[3])
    exit(0)
}

// MARK: The driver

struct Options {
    var python = "python3"
    /// Benchmarks/Resources/onnx_models.py, found from this source file's path by default.
    var script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Resources/onnx_models.py").standardized.path
    var rounds = 5
    var seconds = 1.0
    var wrkSeconds = 10
    var warmupSeconds = 5
    var connections = 16
    var only: String?
    var profile: (model: String, rows: Int, seconds: Double)?
    /// An ONNXBenchmark binary of an earlier build: section 3 loads its server's realtime services too.
    var baseline: String?
    /// What section 3 calls the earlier build (its commit, say).
    var baselineLabel = "baseline"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--python": self.python = iterator.next()!
            case "--script": self.script = iterator.next()!
            case "--rounds": self.rounds = Int(iterator.next()!)!
            case "--seconds": self.seconds = Double(iterator.next()!)!
            case "--wrk-seconds": self.wrkSeconds = Int(iterator.next()!)!
            case "--warmup-seconds": self.warmupSeconds = Int(iterator.next()!)!
            case "--connections": self.connections = Int(iterator.next()!)!
            case "--only": self.only = iterator.next()!
            case "--baseline": self.baseline = iterator.next()!
            case "--baseline-label": self.baselineLabel = iterator.next()!
            case "--profile": self.profile = (iterator.next()!, Int(iterator.next()!)!, Double(iterator.next()!)!)
            default: fatalError("unknown argument \(argument); see the usage at the top of main.swift")
            }
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

/// Prints a line and flushes, so progress shows when the output is piped.
func say(_ line: String = "") {
    print(line)
    fflush(nil)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Thousands separators, no decimals: `12,345`.
func grouped(_ value: Double) -> String {
    guard value.isFinite else { return "—" }
    let digits = String(Int(value.rounded()))
    var out = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0, index % 3 == 0, character != "-" { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}

/// `12.3×`, `1.23×`, `0.123×`, `0.0123×`: three significant digits at most, so small ratios show.
func ratio(_ value: Double) -> String {
    guard value.isFinite else { return "—" }
    if value >= 10 { return String(format: "%.1f×", value) }
    if value >= 0.1 { return String(format: "%.2f×", value) }
    return String(format: "%.2g×", value)
}

/// Runs `executable` to completion and returns its standard output; fails on a non-zero exit.
func output(of executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else { throw Failure(description: "\(executable) \(arguments) exited with \(process.terminationStatus):\n\(text)") }
    return text
}

/// One benchmark model: the engine's copy, its 1-row and 1,000-row frames, and onnxruntime's outputs
/// for the 1,000 rows.
struct BenchModel {
    let name: String
    let description: String
    let bytes: Int
    let model: ONNXModel
    let row: DataFrame
    let batch: DataFrame
    let large: DataFrame
    let firstRow: [Double]
    let expected: [String: [JSONValue]]

    init(directory: String, name: String, description: String) throws {
        self.name = name
        self.description = description
        let onnx = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).onnx"))
        self.bytes = onnx.count
        self.model = try ONNXModel(data: onnx)
        let data = try JSONValue(parsing: try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).json")))
        func frame(_ rows: [JSONValue]) throws -> DataFrame {
            let matrix = rows.map { ($0.arrayValue ?? []).map { $0.doubleValue! } }
            let width = matrix.first?.count ?? 0
            return try DataFrame(columns: (0..<width).map { column in
                DataFrame.Column(name: "f\(column)", values: matrix.map { .numeric($0[column]) })
            })
        }
        let rows1 = data["rows1"]!.arrayValue!
        self.row = try frame(rows1)
        self.batch = try frame(data["rows1000"]!.arrayValue!)
        self.large = try frame(data["rows10000"]!.arrayValue!)
        self.firstRow = rows1[0].arrayValue!.map { $0.doubleValue! }
        var expected: [String: [JSONValue]] = [:]
        for member in data["expected"]!.objectValue!.members { expected[member.key] = member.value.arrayValue! }
        self.expected = expected
    }

    /// Our outputs for the 1,000 rows against onnxruntime's: the largest difference over every
    /// column both have, and which columns only one side has.
    func check() throws -> String {
        let scored = try self.model.score(self.batch)
        var worst = 0.0
        var missing: [String] = []
        for (name, values) in self.expected.sorted(by: { $0.key < $1.key }) {
            guard let ours = scored[name] else { missing.append(name); continue }
            for (mine, theirs) in zip(ours, values) {
                guard let a = mine.doubleValue, let b = theirs.doubleValue else { worst = .infinity; continue }
                worst = max(worst, abs(a - b) / max(1, abs(b)))
            }
        }
        let extra = Set(scored.columnNames).subtracting(self.expected.keys)
        var text = String(format: "largest relative difference %.2g over %d columns", worst, self.expected.count - missing.count)
        if !missing.isEmpty { text += "; missing \(missing)" }
        if !extra.isEmpty { text += "; extra \(extra.sorted())" }
        if worst > 1e-4 || !missing.isEmpty { throw Failure(description: "\(self.name): our outputs differ from onnxruntime's: \(text)") }
        return text
    }
}

/// Calls per second of `body`: a warm-up of a quarter of `duration`, then calls in a loop for
/// `duration` seconds.
func rate(_ duration: Double, _ body: () throws -> Int) rethrows -> Double {
    let clock = ContinuousClock()
    var sink = 0
    let warm = clock.now + .seconds(duration / 4)
    while clock.now < warm { sink &+= try body() }
    var calls = 0
    let start = clock.now
    let end = start + .seconds(duration)
    var now = start
    while now < end {
        sink &+= try body()
        calls += 1
        now = clock.now
    }
    if sink == -1 { say("") }  // keeps the results alive
    return Double(calls) / seconds(now - start)
}

let options = Options(CommandLine.arguments)
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

say("ONNX benchmark: making the models (\(options.script))")
_ = try output(of: options.python, [options.script, "make", directory])
let models: [BenchModel] = try modelNames(in: directory).map { name, description in
    let model = try BenchModel(directory: directory, name: name, description: description)
    say("  \(name) (\(description), \(grouped(Double(model.bytes))) bytes): \(try model.check())")
    return model
}

if let profile = options.profile {
    guard let model = models.first(where: { $0.name == profile.model }) else { fatalError("no model \(profile.model)") }
    let frame = profile.rows == 1 ? model.row : model.batch
    let calls = try rate(profile.seconds) { try model.model.score(frame).rowCount }
    say(String(format: "%@, %d rows: %.0f calls/s", model.name, profile.rows, calls))
    try? FileManager.default.removeItem(atPath: directory)  // exit skips the defer
    exit(0)
}

// MARK: 1. The engine against onnxruntime's Python API

struct EngineRound {
    var ours1: [String: Double] = [:]
    var ours1000: [String: Double] = [:]
    var ours10000: [String: Double] = [:]
    var ort: [String: [String: [String: Double]]] = [:]  // model → mode → calls1 / calls1000 / calls10000
}

func measureOurs(_ models: [BenchModel], _ round: inout EngineRound) throws {
    for model in models {
        round.ours1[model.name] = try rate(options.seconds) { try model.model.score(model.row).rowCount }
        round.ours1000[model.name] = try rate(options.seconds) { try model.model.score(model.batch).rowCount }
        round.ours10000[model.name] = try rate(options.seconds) { try model.model.score(model.large).rowCount }
    }
}

func measureOnnxruntime(_ models: [BenchModel], _ round: inout EngineRound) throws {
    let text = try output(of: options.python, [options.script, "time", directory, "\(options.seconds)"])
    let json = try JSONValue(parsing: text)
    for model in models {
        for mode in ["default", "single"] {
            for key in ["calls1", "calls1000", "calls10000"] {
                round.ort[model.name, default: [:]][mode, default: [:]][key] = json[model.name]?[mode]?[key]?.doubleValue ?? .nan
            }
        }
    }
}

if options.only != "consume" {
    say("\n1. Engine: \(options.rounds) rounds, \(options.seconds) s per measurement (after a warm-up of a quarter of that), order alternating")
    var rounds: [EngineRound] = []
    for index in 0..<options.rounds {
        var round = EngineRound()
        if index % 2 == 0 {
            try measureOurs(models, &round)
            try measureOnnxruntime(models, &round)
        } else {
            try measureOnnxruntime(models, &round)
            try measureOurs(models, &round)
        }
        let line = models.map { model in
            String(format: "%@ ours %.0f/%.0f ort %.0f/%.0f", model.name, round.ours1[model.name]!, round.ours1000[model.name]!,
                   round.ort[model.name]!["default"]!["calls1"]!, round.ort[model.name]!["default"]!["calls1000"]!)
        }.joined(separator: "; ")
        say("  round \(index + 1) (1-row / 1,000-row calls/s): \(line)")
        rounds.append(round)
    }
    func ort(_ model: String, _ mode: String, _ key: String) -> Double { median(rounds.map { $0.ort[model]![mode]![key]! }) }

    say("\nOne row: our engine called from Swift against onnxruntime called through its Python API — per-call overhead dominates.")
    say("1,000 and 10,000 rows: the engines' own arithmetic dominates (both on every core: onnxruntime's default thread pool, float32; ours splits the rows; its dense layers in float32 through OpenBLAS, its trees four rows at a time).")
    say("\n| model | 1 row: ours | 1 row: onnxruntime | ours / ort | 1,000 rows: ours (rows/s) | 1,000 rows: ort (rows/s) | ours / ort | 10,000 rows: ours (rows/s) | 10,000 rows: ort (rows/s) | ours / ort | ort, 1 thread: 1 / 1,000 / 10,000 rows |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    var singleRatios: [Double] = []
    for model in models {
        let ours1 = median(rounds.map { $0.ours1[model.name]! }), ours1000 = median(rounds.map { $0.ours1000[model.name]! })
        let ours10000 = median(rounds.map { $0.ours10000[model.name]! })
        let ort1 = ort(model.name, "default", "calls1"), ort1000 = ort(model.name, "default", "calls1000"), ort10000 = ort(model.name, "default", "calls10000")
        singleRatios.append(ours1 / ort1)
        let single = "\(grouped(ort(model.name, "single", "calls1")))/s / \(grouped(ort(model.name, "single", "calls1000") * 1000)) / \(grouped(ort(model.name, "single", "calls10000") * 10000)) rows/s"
        say("| \(model.name) | \(grouped(ours1))/s | \(grouped(ort1))/s | \(ratio(ours1 / ort1)) | \(grouped(ours1000 * 1000)) | \(grouped(ort1000 * 1000)) | \(ratio(ours1000 / ort1000)) | \(grouped(ours10000 * 10000)) | \(grouped(ort10000 * 10000)) | \(ratio(ours10000 / ort10000)) | \(single) |")
    }
    let worst = singleRatios.min() ?? .nan
    say(String(format: "\nSingle-row scoring rate, ours / onnxruntime's Python call rate: %@ (lowest over the models; target ≥ 1×: %@)",
               ratio(worst), worst >= 1 ? "met" : "NOT met"))
}

// MARK: 2. Consume through `mldeploy serve`: realtime against a Python service

struct Measurement {
    var rate = 0.0
    var p50 = 0.0
    var p99 = 0.0
}

/// wrk at full speed on `url` with `body`: requests per second and latency percentiles (ms).
func saturate(_ url: String, body: String, token: String, seconds: Int, connections: Int = options.connections) throws -> Measurement {
    let result = try wrkPost(url, body: body, headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], connections: connections, seconds: seconds)
    if result.failed || ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil { say("  wrk on \(url):\n\(result.text)") }
    return Measurement(rate: result.rate, p50: result.p50, p99: result.p99)
}

/// One consume with URLSession: the response's `outputData`, which must be a success.
func consume(_ url: String, body: String, token: String) async throws -> JSONValue {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = "POST"
    request.httpBody = Data(body.utf8)
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    let (data, response) = try await URLSession.shared.data(for: request)
    let json = try JSONValue(parsing: data)
    guard (response as? HTTPURLResponse)?.statusCode == 200, json["success"]?.boolValue == true, let outputs = json["outputParameters"]?["outputData"] else {
        throw Failure(description: "\(url) answered \(String(decoding: data, as: UTF8.self))")
    }
    return outputs
}

/// Starts `binary serve PORT-FILE MODELS-DIR` (this binary's, or an earlier build's with the same
/// subcommand) and signs in: the server, its base URL and a bearer token.
func startServer(_ binary: String, models directory: String) async throws -> (GuardedProcess, String, String) {
    let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-bench-port-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    defer { try? FileManager.default.removeItem(atPath: portFile) }
    let server = try GuardedProcess(binary, ["serve", portFile, directory])
    var port = ""
    for _ in 0..<600 where port.isEmpty {
        port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
        if port.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
    }
    guard !port.isEmpty else {
        server.stop()
        throw Failure(description: "\(binary) serve never wrote its port")
    }
    let base = "http://127.0.0.1:\(port)"
    var login = URLRequest(url: URL(string: base + "/login")!)
    login.httpMethod = "POST"
    login.httpBody = Data(#"{"username": "bench", "password": "bench"}"#.utf8)
    login.setValue("application/json", forHTTPHeaderField: "Content-Type")
    let token = try JSONValue(parsing: try await URLSession.shared.data(for: login).0)["access_token"]!.stringValue!
    return (server, base, token)
}

if options.only != "engine" {
    let (server, base, token) = try await startServer(CommandLine.arguments[0], models: directory)
    defer { server.stop() }
    // The earlier build's server, idle until section 3 loads it.
    var baseline: (GuardedProcess, String, String)?
    if let binary = options.baseline { baseline = try await startServer(binary, models: directory) }
    defer { baseline?.0.stop() }

    say("\n2. Consume through mldeploy serve: wrk -t2 -c\(options.connections), \(options.warmupSeconds) s warm-up then \(options.wrkSeconds) s, one-row body, per service")
    var results: [(model: String, realtime: Measurement, python: Measurement)] = []
    for model in models {
        let columns = model.firstRow.enumerated().map { #""f\#($0.offset)": [\#($0.element)]"# }.joined(separator: ", ")
        let body = #"{"inputData": {\#(columns)}}"#
        let realtimeURL = base + "/api/rt-\(model.name)/1", pythonURL = base + "/api/py-\(model.name)/1"
        // Both answer, and answer the same (the first column: the label or the prediction).
        let realtime = try await consume(realtimeURL, body: body, token: token)
        let python = try await consume(pythonURL, body: body, token: token)
        for member in realtime.objectValue?.members ?? [] {
            guard let a = member.value.arrayValue?.first?.doubleValue, let b = python[member.key]?.arrayValue?.first?.doubleValue,
                abs(a - b) <= 1e-4 * max(1, abs(b))
            else { throw Failure(description: "\(model.name): the realtime and the Python service answer differently: \(try realtime.serialized()) vs \(try python.serialized())") }
        }
        say("  \(model.name): both answer \(try realtime.serialized())")
        var measured: [Measurement] = []
        for url in [realtimeURL, pythonURL] {
            _ = try saturate(url, body: body, token: token, seconds: options.warmupSeconds)
            measured.append(try saturate(url, body: body, token: token, seconds: options.wrkSeconds))
        }
        say(String(format: "  %@: realtime %.0f req/s (p50 %.2f ms, p99 %.2f ms), Python service %.0f req/s (p50 %.2f ms, p99 %.2f ms)",
                   model.name, measured[0].rate, measured[0].p50, measured[0].p99, measured[1].rate, measured[1].p50, measured[1].p99))
        results.append((model.name, measured[0], measured[1]))
    }
    say("\n| model | realtime req/s | p50 / p99 (ms) | Python service req/s | p50 / p99 (ms) | realtime / Python |")
    say("|---|---|---|---|---|---|")
    for result in results {
        say(String(format: "| %@ | %@ | %.2f / %.2f | %@ | %.2f / %.2f | %@ |", result.model, grouped(result.realtime.rate), result.realtime.p50, result.realtime.p99,
                   grouped(result.python.rate), result.python.p50, result.python.p99, ratio(result.realtime.rate / result.python.rate)))
    }
    let worst = results.map { $0.realtime.rate / $0.python.rate }.min() ?? .nan
    say("\nRealtime consume / Python-service consume: \(ratio(worst)) (lowest over the models; target ≥ 2×: \(worst >= 2 ? "met" : "NOT met"))")

    // 3. Adaptive batching: 64 concurrent single-row clients on the same model, batching off
    // (`rt-`) and on (`rtb-`), one after the other; first, with `--baseline`, the earlier build's
    // `rt-` under the same load.
    say("\n3. Adaptive batching: wrk -t2 -c64, \(options.warmupSeconds) s warm-up then \(options.wrkSeconds) s, one-row body; batches of up to \(batchSize) rows, \(batchWait) wait")
    if let baseline {
        say("\n| model | \(options.baselineLabel): req/s | p50 / p99 (ms) | off: req/s | p50 / p99 (ms) | on: req/s | p50 / p99 (ms) | on / off | on / \(options.baselineLabel) |")
        say("|---|---|---|---|---|---|---|---|---|")
    } else {
        say("\n| model | off: req/s | p50 / p99 (ms) | on: req/s | p50 / p99 (ms) | on / off |")
        say("|---|---|---|---|---|---|")
    }
    for model in models {
        let columns = model.firstRow.enumerated().map { #""f\#($0.offset)": [\#($0.element)]"# }.joined(separator: ", ")
        let body = #"{"inputData": {\#(columns)}}"#
        var targets = [(base + "/api/rt-\(model.name)/1", token), (base + "/api/rtb-\(model.name)/1", token)]
        if let (_, earlierBase, earlierToken) = baseline { targets.insert((earlierBase + "/api/rt-\(model.name)/1", earlierToken), at: 0) }
        var measured: [Measurement] = []
        for (url, bearer) in targets {
            _ = try await consume(url, body: body, token: bearer)
            _ = try saturate(url, body: body, token: bearer, seconds: options.warmupSeconds, connections: 64)
            measured.append(try saturate(url, body: body, token: bearer, seconds: options.wrkSeconds, connections: 64))
        }
        let cells = measured.map { String(format: "%@ | %.2f / %.2f", grouped($0.rate), $0.p50, $0.p99) }.joined(separator: " | ")
        let (off, on) = (measured[measured.count - 2], measured[measured.count - 1])
        let ratios = ratio(on.rate / off.rate) + (baseline == nil ? "" : " | " + ratio(on.rate / measured[0].rate))
        say("| \(model.name) | \(cells) | \(ratios) |")
    }

    // 4. Realtime latency at half load: each realtime service paced (open loop) at half its
    // maximum rate from section 2 by the timer-thread pacer, then, for comparison in the same run,
    // at the rate earlier runs used (at most 4,000/s) by it and by the client pacer of those runs.
    let cap = Pacer.timerThread.cleanRate
    say("\n4. Realtime at half load: paced open loop for \(options.wrkSeconds) s at half the -c\(options.connections) maximum (at most \(Int(cap))/s), then at most 4,000/s by both pacers")
    say("\n| model | pacer | paced at | p50 (ms) | p99 (ms) | p99.9 (ms) | p99 / p50 | pacer late, p99 (ms) |")
    say("|---|---|---|---|---|---|---|---|")
    for (model, result) in zip(models, results) {
        let columns = model.firstRow.enumerated().map { #""f\#($0.offset)": [\#($0.element)]"# }.joined(separator: ", ")
        let body = #"{"inputData": {\#(columns)}}"#
        let half = result.realtime.rate / 2
        var runs: [(Pacer, Double)] = [(.timerThread, min(cap, half))]
        if half > Pacer.client.cleanRate { runs.append((.timerThread, Pacer.client.cleanRate)) }
        runs.append((.client, min(Pacer.client.cleanRate, half)))
        for (pacer, rate) in runs {
            let paced = try await pacedPost(base + "/api/rt-\(model.name)/1", body: body, headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], rate: rate, seconds: options.wrkSeconds, pacer: pacer)
            say(String(format: "| %@ | %@ | %.0f/s | %.2f | %.2f | %.2f | %.1f× | %.2f |", model.name, pacer.label, paced.rate, paced.p50, paced.p99, paced.p999, paced.p99 / paced.p50, paced.lateP99))
        }
    }
}
