import MLDeploy

/// Which version of each operator a model selects, and whether the engine runs that version.
///
/// An ONNX model imports an opset per domain; each node's operator then means the newest version
/// of that operator defined at or below the opset (its *since-version*). Most operators did not
/// change for many opsets (Relu last changed at 14, MatMul at 13), and the newest opsets mostly
/// widened type constraints (bfloat16, float8, int4) — so support is judged operator by operator,
/// never by a cap on the opset: a model exported at opset 22 or 28 runs when every node's selected
/// version has the semantics this engine implements. The histories below are the operators'
/// since-versions as the ONNX specification (onnx 1.23, default opset 28, ai.onnx.ml 5) lists them.
enum OperatorVersions {
    /// The newest opset of each domain whose operator histories this table knows. A model that
    /// imports a newer one is refused: an operator may have changed there.
    static let newestOpset: [String: Int64] = ["": 28, "ai.onnx.ml": 5]

    /// Each operator's since-versions, oldest first, by domain and name.
    static let history: [String: [String: [Int64]]] = [
        "": [
            "Add": [1, 6, 7, 13, 14], "Sub": [1, 6, 7, 13, 14], "Mul": [1, 6, 7, 13, 14], "Div": [1, 6, 7, 13, 14],
            "Relu": [1, 6, 13, 14], "Sigmoid": [1, 6, 13], "Tanh": [1, 6, 13],
            "Identity": [1, 13, 14, 16, 19, 21, 23, 24, 25],
            "Gather": [1, 11, 13], "ArgMax": [1, 11, 12, 13], "MatMul": [1, 9, 13], "Gemm": [1, 6, 7, 9, 11, 13],
            "Softmax": [1, 11, 13], "Flatten": [1, 9, 11, 13, 21, 23, 24, 25],
            "Reshape": [1, 5, 13, 14, 19, 21, 23, 24, 25], "Cast": [1, 6, 9, 13, 19, 21, 23, 24, 25, 28],
            "Concat": [1, 4, 11, 13],
        ],
        "ai.onnx.ml": [
            "TreeEnsembleRegressor": [1, 3, 5], "TreeEnsembleClassifier": [1, 3, 5], "Imputer": [1], "OneHotEncoder": [1],
            "LabelEncoder": [1, 2, 4], "Scaler": [1], "Normalizer": [1], "LinearRegressor": [1], "LinearClassifier": [1],
            "ZipMap": [1], "ArrayFeatureExtractor": [1],
        ],
    ]

    /// Versions whose semantics the engine does not implement, and why (what to export instead).
    /// Every other version in ``history`` means, for the float, double, int64, string and bool
    /// tensors the engine handles, what the engine computes; differences within a version that
    /// depend on an attribute are checked where the operator reads its attributes.
    static let refused: [String: [String: [Int64: String]]] = [
        "": [
            "Reshape": [1: "its shape is an attribute before version 5 (the engine reads the shape input)"],
            "Cast": [1: "its target type is a string before version 6 (the engine reads the numeric element type)"],
        ],
        "ai.onnx.ml": [
            "LabelEncoder": [1: "version 1 maps through classes_strings (the engine runs versions 2 and 4's keys and values)"],
            "TreeEnsembleRegressor": [5: "it is deprecated in ai.onnx.ml opset 5 in favour of TreeEnsemble, and ONNX checkers refuse such models"],
            "TreeEnsembleClassifier": [5: "it is deprecated in ai.onnx.ml opset 5 in favour of TreeEnsemble, and ONNX checkers refuse such models"],
        ],
    ]

    /// The version of `node`'s operator that `opsets` select.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` naming the operator, its domain and
    ///   version when the model imports no opset for the node's domain, an opset newer than this
    ///   table knows, one older than the operator's first version, or a version the engine does
    ///   not implement.
    static func version(of node: NodeProto, opsets: [String: Int64]) throws -> Int64 {
        let domain = node.domain == "ai.onnx" ? "" : node.domain
        let shown = domain.isEmpty ? "ai.onnx" : domain
        guard let history = Self.history[domain]?[node.opType] else { return 0 }  // not an operator the engine runs: compiling says so
        guard let opset = opsets[domain] else {
            throw MLDeployError(code: .unsupported, message: "Operator \(shown).\(node.opType) (node '\(node.name)'): the model imports no opset for the domain \(shown).")
        }
        if let newest = Self.newestOpset[domain], opset > newest {
            throw MLDeployError(
                code: .unsupported,
                message: "The model imports \(shown) opset \(opset); this engine knows the operators' versions up to opset \(newest). Export with a target opset of \(newest) or lower."
            )
        }
        guard let selected = history.last(where: { $0 <= opset }) else {
            throw MLDeployError(code: .unsupported, message: "Operator \(shown).\(node.opType) (node '\(node.name)') does not exist at \(shown) opset \(opset); it was added in opset \(history[0]).")
        }
        if let why = Self.refused[domain]?[node.opType]?[selected] {
            let runs = history.filter { Self.refused[domain]?[node.opType]?[$0] == nil }.map(String.init).joined(separator: ", ")
            throw MLDeployError(
                code: .unsupported,
                message: "Operator \(shown).\(node.opType) version \(selected) (node '\(node.name)', selected by \(shown) opset \(opset)) is not supported: \(why). The engine runs its versions \(runs)."
            )
        }
        return selected
    }
}
