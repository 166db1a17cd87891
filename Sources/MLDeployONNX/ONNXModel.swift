import Foundation
import MLDeploy
import Synchronization

/// An ONNX model, parsed and checked, ready to score data frames natively — no Python, no ONNX
/// runtime. Loading checks every operator at the version the model's opsets select (any opset up to
/// 28, ai.onnx.ml 5): what this engine cannot run is reported when the model is loaded (at deploy
/// time), naming the operator, its domain and version, never at scoring time.
///
/// Scoring maps a data frame to the model's inputs — by column name when the model's inputs are
/// named like the columns, otherwise all columns concatenated in order into the single float
/// input — and returns one column per output (labels, predictions), with probabilities as one
/// column per class (`<output>_<class>`).
///
/// A loaded model is immutable: one instance scores concurrent requests safely.
public struct ONNXModel: Sendable {
    /// The producer the file names (e.g. `skl2onnx`).
    public let producer: String
    /// The model's input names, in order.
    public let inputNames: [String]
    /// The model's output names, in order.
    public let outputNames: [String]
    /// The model's inputs (names, element types, shapes), in `inputNames` order.
    let inputs: [ValueInfoProto]
    /// The model's outputs, in `outputNames` order.
    let outputs: [ValueInfoProto]
    /// The graph, compiled: what scoring runs.
    private let plan: ExecutionPlan
    /// Whether the graph scores each row on its own (``RowIndependence``), so a large frame may be
    /// split across cores.
    public let scoresRowsIndependently: Bool

    /// Parses, checks and compiles `data`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` for an rx-serialized model (bytes
    ///   starting with `blob`), an operator, attribute or opset this engine does not run, naming
    ///   it; ``MLDeploy/MLDeployError/Code/invalidArgument`` for bytes that are not an ONNX model.
    public init(data: Data) throws {
        if data.starts(with: Array("blob".utf8)) {
            throw MLDeployError(
                code: .unsupported,
                message: "Unsupported model format: this is a RevoScale (rx_serialize_model) model; realtime services here score ONNX models. Export the model to ONNX (skl2onnx, onnxmltools)."
            )
        }
        let model = try ModelProto(bytes: Array(data))
        self.producer = model.producer
        var initializers: [String: Tensor] = [:]
        for initializer in model.graph.initializers { initializers[initializer.name] = try initializer.tensor() }
        self.inputs = model.graph.inputs.filter { initializers[$0.name] == nil }
        self.inputNames = self.inputs.map(\.name)
        self.outputNames = model.graph.outputs.map(\.name)
        self.outputs = model.graph.outputs
        self.plan = try ExecutionPlan(graph: model.graph, initializers: initializers, inputNames: self.inputNames, opsets: model.opsets)
        self.scoresRowsIndependently = RowIndependence.holds(graph: model.graph, inputs: self.inputs, initializers: initializers)
    }

    /// The fewest rows each core is given when a frame is split: below this, waking another
    /// thread costs more than the rows it would score. Parts are split at its multiples, which are
    /// where the dense layers' BLAS blocks start too, so a split answer equals one call's exactly.
    public static let rowsPerCore = 256

    /// The cores a frame may be split across by default: the active processors, read once (on
    /// Linux Foundation reads the cgroup's CPU quota from files each time it is asked, which would
    /// cost a one-row call several times its scoring).
    public static let availableCores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Scores `frame`: one batch of all its rows.
    ///
    /// A frame of at least twice ``rowsPerCore`` rows, for a model that scores rows independently
    /// (``scoresRowsIndependently``), is split into one range of rows per core (up to `cores`, by
    /// default every active one), scored at once on Dispatch's threads, and put back together in
    /// order: the answer is the one a single call would give. The call blocks its thread until
    /// every range is scored. `cores` defaults to ``availableCores``.
    public func score(_ frame: DataFrame, cores: Int = ONNXModel.availableCores) throws -> DataFrame {
        let rows = frame.rowCount
        let parts = self.scoresRowsIndependently && rows >= 2 * Self.rowsPerCore ? min(max(cores, 1), rows / Self.rowsPerCore) : 1
        guard parts > 1 else { return try self.scoreWhole(frame) }
        // Parts start at multiples of `rowsPerCore`, where the dense layers' blocks start
        // (``Operators/blasBlockRows``): every row is multiplied in the same block, at the same
        // place, as in a single call, so the answer is bit for bit that call's.
        // The blocks are shared out evenly, so the parts differ by one block at most.
        let blocks = (rows + Self.rowsPerCore - 1) / Self.rowsPerCore
        let bounds = (0...parts).map { part in min(rows, blocks * part / parts * Self.rowsPerCore) }
        let answers = Mutex<[DataFrame?]>(Array(repeating: nil, count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let answer = try? self.scoreWhole(frame.rows(bounds[part]..<bounds[part + 1]))
            answers.withLock { $0[part] = answer }
        }
        // A part that failed (a cell that is not a number…) is scored again whole, so the error
        // names the row as the caller numbers it.
        let scored = answers.withLock { $0 }.compactMap { $0 }
        guard scored.count == parts, let stacked = try? DataFrame.stacking(scored) else { return try self.scoreWhole(frame) }
        return stacked
    }

    /// Scores every row of `frame` in one call of the plan.
    private func scoreWhole(_ frame: DataFrame) throws -> DataFrame {
        let outputs = try self.plan.run(try self.bind(frame))
        return try self.frame(Array(zip(self.outputNames, outputs)), rows: frame.rowCount)
    }

    /// The model's inputs from the frame's columns, in `inputNames` order.
    private func bind(_ frame: DataFrame) throws -> [Tensor] {
        let rows = frame.rowCount
        func tensor(_ columns: [DataFrame.Column], for input: ValueInfoProto) throws -> Tensor {
            let type = input.elementType.flatMap(ElementType.init(rawValue:)) ?? .float
            switch type {
            case .string:
                var values: [String] = []
                values.reserveCapacity(rows * columns.count)
                for row in 0..<rows { for column in columns { values.append(column.values[row].stringValue ?? "\(column.values[row])") } }
                return Tensor(shape: [rows, columns.count], storage: .string(values), elementType: .string)
            case .int64, .int32:
                var values: [Int64] = []
                values.reserveCapacity(rows * columns.count)
                for row in 0..<rows { for column in columns { values.append(try Tensor.integer(try Self.number(column, row), "Input '\(input.name)'")) } }
                return Tensor(shape: [rows, columns.count], storage: .int64(values), elementType: type)
            default:
                // Column by column into the row-major buffer: each column's cells are read in order,
                // and a number cell is taken without copying the enum (the hot path of scoring).
                let width = columns.count
                var values = [Double](repeating: 0, count: rows * width)
                try values.withUnsafeMutableBufferPointer { target in
                    for (position, column) in columns.enumerated() {
                        try column.values.withUnsafeBufferPointer { cells in
                            for row in 0..<rows {
                                let number: Double
                                switch cells[row] {
                                case .numeric(let value): number = value
                                case .integer(let value): number = Double(value)
                                default: number = try Self.number(column, row)
                                }
                                target[row * width + position] = type == .float ? Double(Float(number)) : number
                            }
                        }
                    }
                }
                return Tensor(shape: [rows, width], storage: .double(values), elementType: type)
            }
        }
        // By name when every input has a column of its name (a few inputs: a linear search is
        // cheaper than hashing every column name).
        let named = self.inputs.map { input in frame.columns.first { $0.name == input.name } }
        if named.allSatisfy({ $0 != nil }) {
            return try zip(self.inputs, named).map { input, column in try tensor([column!], for: input) }
        }
        guard self.inputs.count == 1, let input = self.inputs.first else {
            throw MLDeployError(
                code: .inputMismatch,
                message: "The model has inputs \(self.inputNames.joined(separator: ", ")); give the data frame columns with those names (or a model with one input, which takes all columns in order)."
            )
        }
        if let width = input.shape.last ?? nil, width != frame.columnCount {
            throw MLDeployError(code: .inputMismatch, message: "The model's input '\(input.name)' takes \(width) features per row; the data frame has \(frame.columnCount) columns.")
        }
        return [try tensor(frame.columns, for: input)]
    }

    private static func number(_ column: DataFrame.Column, _ row: Int) throws -> Double {
        guard let number = column.values[row].doubleValue else {
            throw MLDeployError(code: .inputMismatch, message: "Column '\(column.name)' row \(row) is \(column.values[row]), not a number.")
        }
        return number
    }

    /// One column per output; a 2-D output becomes one column per class (`<name>_<label>`) or per
    /// position (`<name>_<i>`).
    private func frame(_ outputs: [(String, Tensor)], rows: Int) throws -> DataFrame {
        var columns: [DataFrame.Column] = []
        for (name, tensor) in outputs {
            let perRow = tensor.count / max(rows, 1)
            let labels = tensor.columnLabels.flatMap { $0.count == perRow ? $0 : nil } ?? (perRow == 1 ? nil : (0..<perRow).map(String.init))
            for column in 0..<perRow {
                let columnName = labels.map { "\(name)_\($0[column])" } ?? name
                let cells: [MLScalar]
                switch tensor.storage {
                case .double(let values):
                    let single = tensor.elementType == .float
                    cells = values.withUnsafeBufferPointer { values in
                        (0..<rows).map { row in
                            let value = values[row * perRow + column]
                            return .numeric(single ? Double(Float(value)) : value)
                        }
                    }
                case .int64(let values): cells = (0..<rows).map { .integer(Int(values[$0 * perRow + column])) }
                case .string(let values): cells = (0..<rows).map { .character(values[$0 * perRow + column]) }
                }
                columns.append(DataFrame.Column(name: columnName, values: cells))
            }
        }
        return try DataFrame(columns: columns)
    }
}

