/// Whether a graph scores each row of its input on its own — so a large frame can be split into
/// row ranges scored on several cores at once and the answers put back together in order, with
/// results identical to one call on the whole frame.
///
/// Decided once, when the model loads, from the graph alone and conservatively: every input must
/// have a dynamic batch (first) dimension — a model that works for any number of rows cannot
/// hold constants sized by it — and every node must be one that keeps rows apart: element-wise
/// operators, tree ensembles, linear models and the other ONNX-ML per-row operators, products by
/// a constant matrix, and the axis-taking operators (`Softmax`, `ArgMax`, `Concat`, `Flatten`,
/// `Reshape`, `Gather`) only when their axis is not the row axis. Anything else (an operator
/// reading across rows, an axis it cannot tell) answers `false`, and the model is scored in one
/// call as before.
enum RowIndependence {
    /// Operators that act on each row alone, whatever their attributes.
    private static let perRow: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Cast", "Identity", "Relu", "Sigmoid", "Tanh",
        "ai.onnx.ml.Imputer", "ai.onnx.ml.LabelEncoder", "ai.onnx.ml.LinearClassifier", "ai.onnx.ml.LinearRegressor",
        "ai.onnx.ml.Normalizer", "ai.onnx.ml.OneHotEncoder", "ai.onnx.ml.Scaler", "ai.onnx.ml.TreeEnsembleClassifier",
        "ai.onnx.ml.TreeEnsembleRegressor", "ai.onnx.ml.ZipMap",
    ]

    /// Whether `graph`, whose inputs are `inputs` and constants `initializers`, scores rows
    /// independently (see the type's documentation).
    static func holds(graph: GraphProto, inputs: [ValueInfoProto], initializers: [String: Tensor]) -> Bool {
        guard !inputs.isEmpty, inputs.allSatisfy({ $0.shape.count >= 1 && $0.shape[0] == nil }) else { return false }
        // Values fixed at load: initializers, and what `Constant` nodes make.
        var constants = initializers
        for node in graph.nodes where node.domain.isEmpty && node.opType == "Constant" {
            guard let value = node.attributes["value"]?.tensor, let tensor = try? value.tensor(), let name = node.outputs.first else { return false }
            constants[name] = tensor
        }
        return graph.nodes.allSatisfy { node in
            let op = node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)"
            if op == "Constant" || Self.perRow.contains(op) { return true }
            /// The axis attribute, when it names an axis other than the rows' (`-1`, the last, counts
            /// as such: every input has at least the row axis and one more where these operators apply).
            func axisIsNotRows(default fallback: Int64?) -> Bool {
                guard let axis = node.attributes["axis"]?.int ?? fallback else { return false }
                return axis > 0 || axis == -1
            }
            switch op {
            case "MatMul":
                return node.inputs.count == 2 && constants[node.inputs[1]] != nil
            case "Gemm":
                return node.inputs.count >= 2 && constants[node.inputs[1]] != nil && (node.attributes["transA"]?.int ?? 0) == 0
                    && (node.inputs.count < 3 || node.inputs[2].isEmpty || constants[node.inputs[2]] != nil)
            case "Softmax":
                // Before opset 13 the default axis is 1, from 13 on -1: never the rows'.
                return axisIsNotRows(default: 1)
            case "ArgMax":
                return axisIsNotRows(default: 0)
            case "Concat":
                return axisIsNotRows(default: nil)
            case "Flatten":
                return axisIsNotRows(default: 1)
            case "Gather":
                return axisIsNotRows(default: 0) && node.inputs.count == 2 && constants[node.inputs[1]] != nil
            case "Reshape":
                // `[-1, …]` or `[0, …]` with the other dimensions fixed keeps rows in order along
                // the first axis, so chunks' answers concatenate into the whole frame's.
                guard node.inputs.count == 2, let shape = try? constants[node.inputs[1]]?.integers("Reshape"), let first = shape.first else { return false }
                return (first == -1 || first == 0) && !shape.dropFirst().contains(-1) && !shape.dropFirst().contains(0)
            case "ai.onnx.ml.ArrayFeatureExtractor":
                // Picking from a constant (a classifier's labels) by each row's index.
                return node.inputs.count == 2 && constants[node.inputs[0]] != nil && constants[node.inputs[1]] == nil
            default:
                return false
            }
        }
    }
}
