import Foundation
import MLDeploy

/// An ONNX model, parsed and checked, ready to score data frames natively — no Python, no ONNX
/// runtime. Loading checks every operator and opset: what this engine cannot run is reported when
/// the model is loaded (at deploy time), naming the operator, never at scoring time.
///
/// Scoring maps a data frame to the model's inputs — by column name when the model's inputs are
/// named like the columns, otherwise all columns concatenated in order into the single float
/// input — and returns one column per output (labels, predictions), with probabilities as one
/// column per class (`<output>_<class>`).
///
/// A loaded model is immutable: one instance scores concurrent requests safely.
public struct ONNXModel: Sendable {
    let graph: GraphProto
    let opsets: [String: Int64]
    /// The producer the file names (e.g. `skl2onnx`).
    public let producer: String
    /// The model's input names, in order.
    public let inputNames: [String]
    /// The model's output names, in order.
    public let outputNames: [String]
    private let initializers: [String: Tensor]
    /// Work done once at load for nodes that need it (tree ensembles), by node index.
    private let prepared: [Int: TreeEnsemble]

    /// Parses and checks `data`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` for an rx-serialized model (bytes
    ///   starting with `blob`), an operator or opset this engine does not run, naming it;
    ///   ``MLDeploy/MLDeployError/Code/invalidArgument`` for bytes that are not an ONNX model.
    public init(data: Data) throws {
        if data.starts(with: Array("blob".utf8)) {
            throw MLDeployError(
                code: .unsupported,
                message: "Unsupported model format: this is a RevoScale (rx_serialize_model) model; realtime services here score ONNX models. Export the model to ONNX (skl2onnx, onnxmltools)."
            )
        }
        let model = try ModelProto(bytes: Array(data))
        self.graph = model.graph
        self.opsets = model.opsets
        self.producer = model.producer
        let initialized = Set(model.graph.initializers.map(\.name))
        self.inputNames = model.graph.inputs.map(\.name).filter { !initialized.contains($0) }
        self.outputNames = model.graph.outputs.map(\.name)
        var initializers: [String: Tensor] = [:]
        for initializer in model.graph.initializers { initializers[initializer.name] = try initializer.tensor() }
        self.initializers = initializers
        var prepared: [Int: TreeEnsemble] = [:]
        for (index, node) in model.graph.nodes.enumerated() {
            if let ensemble = try Operators.prepareTreeEnsemble(node) { prepared[index] = ensemble }
        }
        self.prepared = prepared
        try self.check()
    }

    /// Every node's operator must be one this engine runs, in an opset it knows.
    private func check() throws {
        for (domain, version) in self.opsets {
            switch domain {
            case "": guard version <= 21 else { throw MLDeployError(code: .unsupported, message: "The model needs ONNX opset \(version); this engine runs opsets up to 21.") }
            case "ai.onnx.ml": guard version <= 5 else { throw MLDeployError(code: .unsupported, message: "The model needs ONNX-ML opset \(version); this engine runs ONNX-ML opsets up to 5.") }
            default: break
            }
        }
        for node in self.graph.nodes where Operators.kernel(for: node) == nil {
            throw MLDeployError(
                code: .unsupported,
                message: "Unsupported ONNX operator '\(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType)' (node '\(node.name)'). Supported: \(Operators.supported.sorted().joined(separator: ", "))."
            )
        }
    }

    /// Scores `frame`: one batch of all its rows.
    public func score(_ frame: DataFrame) throws -> DataFrame {
        var values = self.initializers
        for (name, tensor) in try self.bind(frame) { values[name] = tensor }
        for (index, node) in self.graph.nodes.enumerated() {
            guard let kernel = Operators.kernel(for: node) else { continue }
            let inputs = try node.inputs.map { name -> Tensor? in
                if name.isEmpty { return nil }
                guard let value = values[name] else { throw MLDeployError(code: .invalidArgument, message: "Node '\(node.name)' reads '\(name)', which nothing produced.") }
                return value
            }
            let outputs = try self.prepared[index].map { try Operators.runTreeEnsemble($0, node, inputs) } ?? kernel(node, inputs, self.opsets[node.domain] ?? 1)
            for (name, output) in zip(node.outputs, outputs) where !name.isEmpty { values[name] = output }
        }
        return try self.frame(self.outputNames.map { name in
            guard let value = values[name] else { throw MLDeployError(code: .invalidArgument, message: "The model's output '\(name)' was not produced.") }
            return (name, value)
        }, rows: frame.rowCount)
    }

    /// The model's inputs from the frame's columns.
    private func bind(_ frame: DataFrame) throws -> [String: Tensor] {
        let inputs = self.graph.inputs.filter { self.inputNames.contains($0.name) }
        let columns = Dictionary(frame.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func tensor(_ columns: [DataFrame.Column], for input: ValueInfoProto) throws -> Tensor {
            let rows = frame.rowCount
            let type = input.elementType.flatMap(ElementType.init(rawValue:)) ?? .float
            switch type {
            case .string:
                var values: [String] = []
                for row in 0..<rows { for column in columns { values.append(column.values[row].stringValue ?? "\(column.values[row])") } }
                return Tensor(shape: [rows, columns.count], storage: .string(values), elementType: .string)
            case .int64, .int32:
                var values: [Int64] = []
                for row in 0..<rows { for column in columns { values.append(Int64(try Self.number(column, row))) } }
                return Tensor(shape: [rows, columns.count], storage: .int64(values), elementType: type)
            default:
                var values: [Double] = []
                values.reserveCapacity(rows * columns.count)
                for row in 0..<rows {
                    for column in columns {
                        let number = try Self.number(column, row)
                        values.append(type == .float ? Double(Float(number)) : number)
                    }
                }
                return Tensor(shape: [rows, columns.count], storage: .double(values), elementType: type)
            }
        }
        if inputs.allSatisfy({ columns[$0.name] != nil }) {
            return try Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, try tensor([columns[$0.name]!], for: $0)) })
        }
        guard inputs.count == 1, let input = inputs.first else {
            throw MLDeployError(
                code: .inputMismatch,
                message: "The model has inputs \(inputs.map(\.name).joined(separator: ", ")); give the data frame columns with those names (or a model with one input, which takes all columns in order)."
            )
        }
        if let width = input.shape.last ?? nil, width != frame.columnCount {
            throw MLDeployError(code: .inputMismatch, message: "The model's input '\(input.name)' takes \(width) features per row; the data frame has \(frame.columnCount) columns.")
        }
        return [input.name: try tensor(frame.columns, for: input)]
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
            let (_, width) = tensor.matrixShape
            let perRow = tensor.count / max(rows, 1)
            let labels = tensor.columnLabels ?? (perRow == 1 ? nil : (0..<perRow).map(String.init))
            for column in 0..<perRow {
                let columnName = labels.map { "\(name)_\($0[column])" } ?? name
                var cells: [MLScalar] = []
                cells.reserveCapacity(rows)
                for row in 0..<rows {
                    let index = row * perRow + column
                    switch tensor.storage {
                    case .double(let values):
                        cells.append(.numeric(tensor.elementType == .float ? Double(Float(values[index])) : values[index]))
                    case .int64(let values): cells.append(.integer(Int(values[index])))
                    case .string(let values): cells.append(.character(values[index]))
                    }
                }
                columns.append(DataFrame.Column(name: columnName, values: cells))
            }
            _ = width
        }
        return try DataFrame(columns: columns)
    }
}

