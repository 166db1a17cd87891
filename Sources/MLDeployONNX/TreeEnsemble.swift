import Foundation
import MLDeploy

/// ONNX-ML's TreeEnsembleRegressor and TreeEnsembleClassifier: every tree is walked from its root
/// to a leaf for each row, and the leaves' weights are aggregated per target (or class).
struct TreeEnsemble: Sendable {
    enum Mode: Sendable { case leq, lt, gte, gt, eq, neq, leaf }

    struct Node: Sendable {
        var mode: Mode = .leaf
        var feature = 0
        var value = 0.0
        var trueChild = -1
        var falseChild = -1
        var missingTracksTrue = false
    }

    enum Aggregate: Sendable { case sum, average, min, max }

    /// Nodes of all trees in one array (plain values: the walk copies no references); `roots`
    /// index each tree's root; `weights` holds each leaf's weights, by node.
    var nodes: [Node] = []
    var weights: [[(target: Int, weight: Double)]] = []
    var roots: [Int] = []
    var targets: Int
    var aggregate: Aggregate
    var baseValues: [Double]

    init(_ node: NodeProto, classifier: Bool, targets: Int) throws {
        let attributes = node.attributes
        let treeIDs = attributes["nodes_treeids"]?.ints ?? [], nodeIDs = attributes["nodes_nodeids"]?.ints ?? []
        let features = attributes["nodes_featureids"]?.ints ?? []
        let values: [Double] = try attributes["nodes_values"]?.floats.map { Double($0) } ?? attributes["nodes_values_as_tensor"]?.tensor?.tensor().numbers("tree thresholds") ?? []
        let modes = attributes["nodes_modes"]?.strings ?? []
        let trueIDs = attributes["nodes_truenodeids"]?.ints ?? [], falseIDs = attributes["nodes_falsenodeids"]?.ints ?? []
        let missing = attributes["nodes_missing_value_tracks_true"]?.ints ?? []
        let count = treeIDs.count
        guard [nodeIDs.count, features.count, values.count, modes.count, trueIDs.count, falseIDs.count].allSatisfy({ $0 == count }) else {
            throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' has node attributes of different lengths.")
        }
        var index: [Int64: [Int64: Int]] = [:]
        for position in 0..<count { index[treeIDs[position], default: [:]][nodeIDs[position]] = position }
        self.nodes = Array(repeating: Node(), count: count)
        self.weights = Array(repeating: [], count: count)
        for position in 0..<count {
            var built = Node()
            switch modes[position] {
            case "BRANCH_LEQ": built.mode = .leq
            case "BRANCH_LT": built.mode = .lt
            case "BRANCH_GTE": built.mode = .gte
            case "BRANCH_GT": built.mode = .gt
            case "BRANCH_EQ": built.mode = .eq
            case "BRANCH_NEQ": built.mode = .neq
            case "LEAF": built.mode = .leaf
            case let other: throw MLDeployError(code: .unsupported, message: "\(node.opType) node mode \(other) is not supported.")
            }
            built.feature = Int(features[position])
            built.value = values[position]
            if built.mode != .leaf {
                guard let trueChild = index[treeIDs[position]]?[trueIDs[position]], let falseChild = index[treeIDs[position]]?[falseIDs[position]] else {
                    throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' has a branch to a node that does not exist.")
                }
                built.trueChild = trueChild
                built.falseChild = falseChild
            }
            built.missingTracksTrue = position < missing.count && missing[position] != 0
            self.nodes[position] = built
        }
        let prefix = classifier ? "class" : "target"
        let weightTrees = attributes["\(prefix)_treeids"]?.ints ?? [], weightNodes = attributes["\(prefix)_nodeids"]?.ints ?? []
        let weightIDs = attributes["\(prefix)_ids"]?.ints ?? []
        let weights: [Double] = try attributes["\(prefix)_weights"]?.floats.map { Double($0) } ?? attributes["\(prefix)_weights_as_tensor"]?.tensor?.tensor().numbers("tree weights") ?? []
        guard [weightNodes.count, weightIDs.count, weights.count].allSatisfy({ $0 == weightTrees.count }) else {
            throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' has weight attributes of different lengths.")
        }
        for position in 0..<weightTrees.count {
            guard let leaf = index[weightTrees[position]]?[weightNodes[position]] else {
                throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' weighs a node that does not exist.")
            }
            self.weights[leaf].append((Int(weightIDs[position]), weights[position]))
        }
        var roots: [Int64: Int] = [:]
        var children = Set<Int>()
        for built in self.nodes where built.mode != .leaf { children.insert(built.trueChild); children.insert(built.falseChild) }
        for position in 0..<count where !children.contains(position) && roots[treeIDs[position]] == nil { roots[treeIDs[position]] = position }
        self.roots = roots.sorted { $0.key < $1.key }.map(\.value)
        self.targets = targets
        switch attributes["aggregate_function"]?.string ?? "SUM" {
        case "SUM": self.aggregate = .sum
        case "AVERAGE": self.aggregate = .average
        case "MIN": self.aggregate = .min
        case "MAX": self.aggregate = .max
        case let other: throw MLDeployError(code: .unsupported, message: "\(node.opType) aggregate function \(other) is not supported.")
        }
        self.baseValues = attributes["base_values"]?.floats.map { Double($0) } ?? []
    }

    /// The leaf a row reaches in the tree rooted at `root`.
    func leaf(_ root: Int, _ row: ArraySlice<Double>) -> Int {
        var position = root
        while true {
            let node = self.nodes[position]
            if node.mode == .leaf { return position }
            let x = row[row.startIndex + node.feature]
            let goesTrue: Bool
            if x.isNaN {
                goesTrue = node.missingTracksTrue
            } else {
                switch node.mode {
                case .leq: goesTrue = x <= node.value
                case .lt: goesTrue = x < node.value
                case .gte: goesTrue = x >= node.value
                case .gt: goesTrue = x > node.value
                case .eq: goesTrue = x == node.value
                case .neq: goesTrue = x != node.value
                case .leaf: goesTrue = false
                }
            }
            position = goesTrue ? node.trueChild : node.falseChild
        }
    }

    /// Aggregated scores, `rows × targets`, base values added.
    func scores(_ input: Tensor) throws -> [Double] {
        let values = try input.numbers("tree ensemble")
        let (rows, features) = input.matrixShape
        guard self.nodes.allSatisfy({ $0.mode == .leaf || $0.feature < features }) else {
            throw MLDeployError(code: .inputMismatch, message: "The tree ensemble reads features the input (\(features) per row) does not have.")
        }
        var output = [Double](repeating: 0, count: rows * self.targets)
        for row in 0..<rows {
            let slice = values[(row * features)..<(row * features + features)]
            var sums = [Double](repeating: 0, count: self.targets)
            var seen = [Bool](repeating: false, count: self.targets)
            for root in self.roots {
                for (target, weight) in self.weights[self.leaf(root, slice)] where target < self.targets {
                    switch self.aggregate {
                    case .min: sums[target] = seen[target] ? Swift.min(sums[target], weight) : weight
                    case .max: sums[target] = seen[target] ? Swift.max(sums[target], weight) : weight
                    case .sum, .average: sums[target] += weight
                    }
                    seen[target] = true
                }
            }
            for target in 0..<self.targets {
                var score = sums[target]
                if self.aggregate == .average { score /= Double(Swift.max(self.roots.count, 1)) }
                if target < self.baseValues.count { score += self.baseValues[target] }
                output[row * self.targets + target] = score
            }
        }
        return output
    }
}

extension Operators {
    /// The tree ensemble of a TreeEnsembleRegressor or TreeEnsembleClassifier node, built once when
    /// the model loads (building it is most of the cost of scoring a row), or `nil` for other nodes.
    static func prepareTreeEnsemble(_ node: NodeProto) throws -> TreeEnsemble? {
        guard node.domain == "ai.onnx.ml" else { return nil }
        switch node.opType {
        case "TreeEnsembleRegressor": return try TreeEnsemble(node, classifier: false, targets: Int(node.attributes["n_targets"]?.int ?? 1))
        case "TreeEnsembleClassifier": return try TreeEnsemble(node, classifier: true, targets: max(classLabels(node).count, 1))
        default: return nil
        }
    }

    /// Runs a prepared tree ensemble node.
    static func runTreeEnsemble(_ ensemble: TreeEnsemble, _ node: NodeProto, _ inputs: [Tensor?]) throws -> [Tensor] {
        node.opType == "TreeEnsembleRegressor" ? try regress(ensemble, node, inputs) : try classify(ensemble, node, inputs)
    }

    static let treeEnsembleRegressor: Kernel = { node, inputs, _ in
        try regress(try TreeEnsemble(node, classifier: false, targets: Int(node.attributes["n_targets"]?.int ?? 1)), node, inputs)
    }

    static let treeEnsembleClassifier: Kernel = { node, inputs, _ in
        try classify(try TreeEnsemble(node, classifier: true, targets: max(classLabels(node).count, 1)), node, inputs)
    }

    static func regress(_ ensemble: TreeEnsemble, _ node: NodeProto, _ inputs: [Tensor?]) throws -> [Tensor] {
        let input = try required(inputs, 0, "TreeEnsembleRegressor")
        let targets = ensemble.targets
        let rows = input.matrixShape.rows
        let scores = Tensor(shape: [rows, targets], storage: .double(try ensemble.scores(input)), elementType: .float)
        return [try postTransform(scores, node, rows: rows, width: targets)]
    }

    static func classify(_ ensemble: TreeEnsemble, _ node: NodeProto, _ inputs: [Tensor?]) throws -> [Tensor] {
        let input = try required(inputs, 0, "TreeEnsembleClassifier")
        let labels = classLabels(node)
        let rows = input.matrixShape.rows
        let values = try ensemble.scores(input)
        let classIDs = Set(node.attributes["class_ids"]?.ints ?? [])
        // A binary model that scores one class only (random forests, gradient boosting): its score
        // is the positive class's weight, and the other class's score is derived from it — with
        // positive weights as 1 − p, otherwise as −s (or, with LOGISTIC, as σ(−s)) — the way ONNX
        // runtimes read such models. The label is decided on the raw score: above 0.5 for
        // positive weights, above 0 otherwise.
        if labels.count == 2, classIDs.count == 1, let scored = classIDs.first.map(Int.init) {
            let allPositive = (node.attributes["class_weights"]?.floats ?? []).allSatisfy { $0 >= 0 }
            let logistic = node.attributes["post_transform"]?.string == "LOGISTIC"
            var probabilities: [Double] = []
            var chosen: [Int] = []
            for row in 0..<rows {
                let positive = values[row * 2 + scored]
                chosen.append(positive > (allPositive ? 0.5 : 0) ? 1 : 0)
                if allPositive {
                    probabilities += [1 - positive, positive]
                } else if logistic {
                    probabilities += [1 / (1 + exp(positive)), 1 / (1 + exp(-positive))]
                } else {
                    probabilities += [-positive, positive]
                }
            }
            let label: Tensor
            if labels.allSatisfy({ Int64($0) != nil }) {
                label = Tensor(shape: [rows], storage: .int64(chosen.map { Int64(labels[$0])! }), elementType: .int64)
            } else {
                label = Tensor(shape: [rows], storage: .string(chosen.map { labels[$0] }), elementType: .string)
            }
            return [label, labeled(Tensor(shape: [rows, 2], storage: .double(probabilities), elementType: .float), labels)]
        }
        let scores = Tensor(shape: [rows, max(labels.count, 1)], storage: .double(values), elementType: .float)
        let transformed = try postTransform(scores, node, rows: rows, width: max(labels.count, 1))
        let label = try argmaxLabels(transformed, labels: labels, rows: rows, binaryThreshold: nil, raw: scores)
        return [label, labeled(transformed, labels)]
    }
}
