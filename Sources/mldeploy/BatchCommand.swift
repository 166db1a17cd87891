import ArgumentParser
import Foundation
import MLDeploy

/// `mldeploy batch`: run many records through a service, and manage executions.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run records through a service as a batch, and manage batch executions.",
        subcommands: [BatchStartCommand.self, BatchStatusCommand.self, BatchResultsCommand.self, BatchCancelCommand.self, BatchListCommand.self],
        defaultSubcommand: BatchStartCommand.self
    )
}


/// Prints a batch's state, and with `results` every record's outputs.
func printBatch(_ status: BatchStatus, results: Bool, format: OutputFormat) throws {
    switch format {
    case .json:
        var object: JSONObject = [
            "executionId": .string(status.executionID), "state": .string(status.state.rawValue),
            "completedItemCount": .integer(status.completedItemCount), "totalItemCount": .integer(status.totalItemCount),
        ]
        if results {
            object["results"] = .array(status.results.map { item in
                ["index": .integer(item.index), "success": .bool(item.response.success), "errorMessage": item.response.errorMessage.map(JSONValue.string) ?? .null, "outputs": .object(item.response.rawOutputs)]
            })
        }
        try Output.json(.object(object))
    case .text:
        print("\(status.executionID)  \(status.state)  \(status.completedItemCount)/\(status.totalItemCount)")
        if results {
            let names = status.results.first?.response.outputSchema.map(\.name) ?? []
            Output.table(["#"] + names + ["ERROR"], status.results.map { item in
                [String(item.index)] + names.map { name in item.response.output(name).map(Output.text) ?? "" } + [item.response.success ? "" : (item.response.errorMessage ?? "failed").split(separator: "\n").last.map(String.init) ?? ""]
            })
        }
    }
}

/// `mldeploy batch NAME --records FILE`: start a batch (and with `--wait`, wait for it).
struct BatchStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a batch from a JSON Lines or CSV file of records (the default batch command).",
        discussion: "With --wait, a progress bar is drawn on a terminal's standard error (nothing in pipes), then the results are printed."
    )

    @OptionGroup var service: ServiceVersionOptions

    @Option(name: .long, help: "The records: FILE.jsonl (a JSON object per line) or FILE.csv (a header row of input names).")
    var records: String

    @Option(name: .long, help: "How many records run at once (default 10).")
    var parallel: Int = 10

    @Flag(name: .long, help: "Wait for the batch to finish and print its results.")
    var wait = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            guard self.parallel >= 1 else { throw MLDeployError.invalidArgument("--parallel must be at least 1.") }
            try await withConfiguredClient(self.global) { client in
                let service = try await self.service.service(client)
                let records = try RecordsFile.read(self.records, for: service.info)
                let batch = try await service.batch(records, parallelCount: self.parallel)
                guard self.wait else {
                    if self.global.format == .json { try Output.json(["executionId": .string(batch.executionID)]) } else { print(batch.executionID) }
                    return
                }
                let bar = ProgressBar()
                for try await status in batch.progress() { bar.show(status) }
                bar.finish()
                try printBatch(try await batch.results(), results: true, format: self.global.format)
            }
        }
    }
}

/// The execution a batch command works on.
struct BatchExecutionOptions: ParsableArguments {
    @OptionGroup var service: ServiceVersionOptions
    @Argument(help: "The execution id.") var execution: String

    /// Runs `body` with the execution, on the configured target.
    func withBatch<T>(_ global: GlobalOptions, _ body: (Batch) async throws -> T) async throws -> T {
        try await withConfiguredClient(global) { client in
            try await body(try await self.service.service(client).batch(executionID: self.execution))
        }
    }

    /// Prints the execution's state, and with `results` its records' outputs.
    func show(results: Bool, _ global: GlobalOptions) async throws {
        try await reportingErrors {
            let status = try await self.withBatch(global) { try await $0.status(includeResults: results) }
            try printBatch(status, results: results, format: global.format)
        }
    }
}

struct BatchStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a batch execution's state and counts.")
    @OptionGroup var execution: BatchExecutionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws { try await self.execution.show(results: false, self.global) }
}

struct BatchResultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "results", abstract: "Print a batch execution's results so far (record i in row i).")
    @OptionGroup var execution: BatchExecutionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws { try await self.execution.show(results: true, self.global) }
}

struct BatchCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel and delete a batch execution.")
    @OptionGroup var execution: BatchExecutionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            try await self.execution.withBatch(self.global) { try await $0.cancel() }
            let id = self.execution.execution
            if self.global.format == .json { try Output.json(["cancelled": .string(id)]) } else { print("cancelled \(id)") }
        }
    }
}

struct BatchListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a service version's batch executions.")
    @OptionGroup var service: ServiceVersionOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let ids = try await withConfiguredClient(self.global) { client in
                try await self.service.service(client).batchExecutions()
            }
            if self.global.format == .json { try Output.json(.array(ids.map(JSONValue.string))) } else { ids.forEach { print($0) } }
        }
    }
}

/// Reads batch records from JSON Lines or CSV, typed by the service's inputs.
enum RecordsFile {
    static func read(_ path: String, for info: ServiceInfo) throws -> [[String: MLValue]] {
        let text = String(decoding: try readFile(path, what: "records file"), as: UTF8.self)
        let types = Dictionary(uniqueKeysWithValues: info.inputs.map { ($0.name, $0.type) })
        func typed(_ name: String, _ json: JSONValue, line: Int) throws -> MLValue {
            guard let type = types[name] else {
                throw MLDeployError(code: .inputMismatch, message: "\(path):\(line): service '\(info.name)' has no input '\(name)'.")
            }
            do {
                return try MLValue(json: json, as: type, parameter: name, direction: .input)
            } catch let error as MLDeployError {
                throw MLDeployError(code: error.code, message: "\(path):\(line): \(error.message)")
            }
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var records: [[String: MLValue]] = []
        if path.hasSuffix(".csv") {
            guard let header = lines.first, !header.isEmpty else { throw MLDeployError.invalidArgument("\(path) is empty: a CSV needs a header row of input names.") }
            let names = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for (offset, line) in lines.dropFirst().enumerated() where !line.isEmpty {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard cells.count == names.count else {
                    throw MLDeployError.invalidArgument("\(path):\(offset + 2): \(cells.count) cells where the header has \(names.count).")
                }
                var record: [String: MLValue] = [:]
                for (name, cell) in zip(names, cells) {
                    let json: JSONValue = types[name] == .character ? .string(cell) : ((try? JSONValue(parsing: Data(cell.utf8))) ?? .string(cell))
                    record[name] = try typed(name, json, line: offset + 2)
                }
                records.append(record)
            }
        } else {
            for (offset, line) in lines.enumerated() where !line.isEmpty {
                guard let object = (try? JSONValue(parsing: Data(line.utf8)))?.objectValue else {
                    throw MLDeployError.invalidArgument("\(path):\(offset + 1): each line must be a JSON object of input values.")
                }
                var record: [String: MLValue] = [:]
                for member in object { record[member.key] = try typed(member.key, member.value, line: offset + 1) }
                records.append(record)
            }
        }
        guard !records.isEmpty else { throw MLDeployError.invalidArgument("\(path) has no records.") }
        return records
    }
}

/// A one-line progress bar on standard error, drawn only when it is a terminal.
final class ProgressBar {
    let enabled = isatty(STDERR_FILENO) == 1
    private var drawn = false

    func show(_ status: BatchStatus) {
        guard self.enabled, status.totalItemCount > 0 else { return }
        let width = 30
        let done = min(width, width * status.completedItemCount / status.totalItemCount)
        let bar = String(repeating: "#", count: done) + String(repeating: "-", count: width - done)
        FileHandle.standardError.write(Data("\r[\(bar)] \(status.completedItemCount)/\(status.totalItemCount) \(status.state)".utf8))
        self.drawn = true
    }

    func finish() {
        if self.drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
