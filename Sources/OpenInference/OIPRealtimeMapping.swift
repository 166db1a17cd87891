import MLDeploy

/// Realtime (ONNX) services through the Open Inference Protocol: the model's own tensors, carried
/// to and from the data frame (`inputData`, `outputData`) every realtime service is called with.
///
/// In: a tensor of shape `[rows]` or `[rows, 1]` is one column named like the tensor; `[rows, k]`
/// is `k` columns (`<name>_0` …) — which a single-input model takes in order, as it takes any frame.
/// Out: the frame's columns are gathered back into the model's outputs: the column `<output>` is a
/// `[rows]` tensor, the columns `<output>_<class>` a `[rows, classes]` one, typed as the model
/// declares.
public enum OIPRealtimeMapping {
    /// The data frame of the request's tensors.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/inputMismatch`` for a tensor of more than two
    ///   dimensions or tensors of different row counts.
    public static func frame(_ tensors: [OIPTensor]) throws -> DataFrame {
        var columns: [DataFrame.Column] = []
        for tensor in tensors {
            let cells = OIPServiceMapping.scalars(tensor)
            switch tensor.shape.count {
            case 0, 1: columns.append(DataFrame.Column(name: tensor.name, values: cells))
            case 2 where tensor.shape[1] == 1: columns.append(DataFrame.Column(name: tensor.name, values: cells))
            case 2:
                let (rows, width) = (tensor.shape[0], tensor.shape[1])
                for column in 0..<width {
                    columns.append(DataFrame.Column(name: "\(tensor.name)_\(column)", values: (0..<rows).map { cells[$0 * width + column] }))
                }
            default:
                throw MLDeployError(code: .inputMismatch, message: "Tensor '\(tensor.name)' has shape \(tensor.shape); realtime models take [rows] or [rows, features].")
            }
        }
        do {
            return try DataFrame(columns: columns)
        } catch {
            throw MLDeployError(code: .inputMismatch, message: "The input tensors must all have the same number of rows (their first dimension): \(tensors.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")).")
        }
    }

    /// The tensors a model with inputs `declared` takes for `frame` — the caller's side of
    /// ``frame(_:)``: a model with one two-dimensional input takes every column in order as one
    /// `[rows, columns]` tensor; otherwise each input takes the column of its name. Without
    /// metadata, every column is a `[rows]` tensor.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/inputMismatch`` naming an input no column feeds.
    public static func tensors(_ frame: DataFrame, declared: [OIPTensorMetadata]) throws -> [OIPTensor] {
        let rows = frame.rowCount
        if declared.count == 1, let input = declared.first, input.shape.count == 2, !(frame.columnCount == 1 && frame.columns[0].name == input.name && input.shape[1] == 1) {
            var cells: [MLScalar] = []
            cells.reserveCapacity(rows * frame.columnCount)
            for row in 0..<rows { for column in frame.columns { cells.append(column.values[row]) } }
            return [Self.typed(input.name, cells, shape: [rows, frame.columnCount], as: input.datatype)]
        }
        guard !declared.isEmpty else {
            return frame.columns.map { OIPServiceMapping.tensor($0.name, cells: $0.values, shape: [rows]) }
        }
        return try declared.map { input in
            guard let column = frame.columns.first(where: { $0.name == input.name }) else {
                throw MLDeployError(code: .inputMismatch, message: "The model takes \(declared.map(\.name).joined(separator: ", ")); the data frame has no column '\(input.name)'.")
            }
            return Self.typed(input.name, column.values, shape: input.shape.count == 2 ? [rows, 1] : [rows], as: input.datatype)
        }
    }

    /// The model's outputs from the scored frame, gathered and typed as `outputs` declares; columns
    /// no declared output claims become tensors of their own.
    public static func outputs(_ frame: DataFrame, declared outputs: [OIPTensorMetadata]) -> [OIPTensor] {
        var claimed = Set<String>()
        var tensors: [OIPTensor] = []
        let rows = frame.rowCount
        for output in outputs {
            if let column = frame.columns.first(where: { $0.name == output.name }) {
                claimed.insert(column.name)
                // A model's [N, 1] output keeps its two dimensions.
                let shape = output.shape.count == 2 ? [rows, 1] : [rows]
                tensors.append(Self.typed(output.name, column.values, shape: shape, as: output.datatype))
                continue
            }
            let group = frame.columns.filter { $0.name.hasPrefix(output.name + "_") && !claimed.contains($0.name) }
            guard !group.isEmpty else { continue }
            group.forEach { claimed.insert($0.name) }
            var cells: [MLScalar] = []
            cells.reserveCapacity(rows * group.count)
            for row in 0..<rows { for column in group { cells.append(column.values[row]) } }
            tensors.append(Self.typed(output.name, cells, shape: [rows, group.count], as: output.datatype))
        }
        for column in frame.columns where !claimed.contains(column.name) {
            tensors.append(OIPServiceMapping.tensor(column.name, cells: column.values, shape: [rows]))
        }
        return tensors
    }

    /// Cells as a tensor of `datatype` (numbers for floating point, integers for integer types,
    /// text for `BYTES`); cells that do not fit are typed by themselves instead.
    static func typed(_ name: String, _ cells: [MLScalar], shape: [Int], as datatype: OIPDatatype) -> OIPTensor {
        if datatype.isFloatingPoint, let numbers = Optional(cells.compactMap(\.doubleValue)), numbers.count == cells.count {
            return OIPTensor(name: name, datatype: datatype, shape: shape, elements: .numbers(numbers))
        }
        if datatype.isSignedInteger, let integers = Optional(cells.compactMap { $0.intValue.map(Int64.init) }), integers.count == cells.count {
            return OIPTensor(name: name, datatype: datatype, shape: shape, elements: .integers(integers))
        }
        return OIPServiceMapping.tensor(name, cells: cells, shape: shape)
    }
}
