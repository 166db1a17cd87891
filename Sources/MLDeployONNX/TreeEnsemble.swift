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
    /// index each tree's root. A leaf's weights are `weightTargets`/`weightValues` from its
    /// node's `weightStart` up to the next node's (`weightStart` has one entry more than `nodes`).
    var nodes: [Node] = []
    var weightStart: [Int] = []
    var weightTargets: [Int] = []
    var weightValues: [Double] = []
    var roots: [Int] = []
    /// The highest feature a branch reads: inputs must have more columns than this.
    var highestFeature = -1
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
        var leafWeights: [[(target: Int, weight: Double)]] = Array(repeating: [], count: count)
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
            if built.mode != .leaf {
                guard built.feature >= 0 else { throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' branches on a negative feature index.") }
                self.highestFeature = Swift.max(self.highestFeature, built.feature)
            }
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
            leafWeights[leaf].append((Int(weightIDs[position]), weights[position]))
        }
        self.weightStart.reserveCapacity(count + 1)
        for list in leafWeights {
            self.weightStart.append(self.weightTargets.count)
            for (target, weight) in list where target >= 0 && target < targets {
                self.weightTargets.append(target)
                self.weightValues.append(weight)
            }
        }
        self.weightStart.append(self.weightTargets.count)
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
    @inline(__always)
    static func leaf(_ nodes: UnsafeBufferPointer<Node>, _ root: Int, _ row: UnsafePointer<Double>) -> Int {
        var position = root
        while true {
            let node = nodes[position]
            if node.mode == .leaf { return position }
            let x = row[node.feature]
            let goesTrue: Bool
            switch node.mode {
            case .leaf: goesTrue = false
            case .leq: goesTrue = x <= node.value
            case .lt: goesTrue = x < node.value
            case .gte: goesTrue = x >= node.value
            case .gt: goesTrue = x > node.value
            case .eq: goesTrue = x == node.value
            case .neq: goesTrue = x != node.value
            }
            position = (x.isNaN ? node.missingTracksTrue : goesTrue) ? node.trueChild : node.falseChild
        }
    }

    /// Aggregated scores, `rows × targets`, base values added.
    func scores(_ input: Tensor) throws -> [Double] {
        let values = try input.numbers("tree ensemble")
        let (rows, features) = input.matrixShape
        guard self.highestFeature < features else {
            throw MLDeployError(code: .inputMismatch, message: "The tree ensemble reads feature \(self.highestFeature), but the input has \(features) per row.")
        }
        let targets = self.targets
        var output = [Double](repeating: 0, count: rows * targets)
        var seen = [Bool](repeating: false, count: targets)
        values.withUnsafeBufferPointer { data in
            self.nodes.withUnsafeBufferPointer { nodes in
                output.withUnsafeMutableBufferPointer { output in
                    guard let data = data.baseAddress, let sums = output.baseAddress else { return }
                    for row in 0..<rows {
                        let x = data + row * features, scores = sums + row * targets
                        if self.aggregate == .min || self.aggregate == .max {
                            for target in 0..<targets { seen[target] = false }
                        }
                        for root in self.roots {
                            let leaf = Self.leaf(nodes, root, x)
                            for index in self.weightStart[leaf]..<self.weightStart[leaf + 1] {
                                let target = self.weightTargets[index], weight = self.weightValues[index]
                                switch self.aggregate {
                                case .sum, .average: scores[target] += weight
                                case .min: scores[target] = seen[target] ? Swift.min(scores[target], weight) : weight
                                case .max: scores[target] = seen[target] ? Swift.max(scores[target], weight) : weight
                                }
                                seen[target] = true
                            }
                        }
                        for target in 0..<targets {
                            if self.aggregate == .average { scores[target] /= Double(Swift.max(self.roots.count, 1)) }
                            if target < self.baseValues.count { scores[target] += self.baseValues[target] }
                        }
                    }
                }
            }
        }
        return output
    }
}

extension Operators {
    static let treeEnsembleRegressor: Compiler = { context in
        let node = context.node
        let ensemble = try TreeEnsemble(node, classifier: false, targets: Int(node.attributes["n_targets"]?.int ?? 1))
        let transform = try PostTransform(node)
        return Kernel { inputs in
            let input = try required(inputs, 0, "TreeEnsembleRegressor")
            let scores = Tensor(shape: [input.matrixShape.rows, ensemble.targets], storage: .double(try ensemble.scores(input)), elementType: .float)
            return [try transform.apply(scores, "TreeEnsembleRegressor")]
        }
    }

    static let treeEnsembleClassifier: Compiler = { context in
        let node = context.node
        let names = classLabels(node)
        let labels = LabelSet(names)
        let ensemble = try TreeEnsemble(node, classifier: true, targets: max(names.count, 1))
        let transform = try PostTransform(node)
        let classIDs = Set(node.attributes["class_ids"]?.ints ?? [])
        // A binary model that scores one class only (random forests, gradient boosting): its score
        // is the positive class's weight, and the other class's score is derived from it — with
        // positive weights as 1 − p, otherwise as −s (or, with LOGISTIC, as σ(−s)) — the way ONNX
        // runtimes read such models. The label is decided on the raw score: above 0.5 for
        // positive weights, above 0 otherwise.
        if names.count == 2, classIDs.count == 1, let scored = classIDs.first.map(Int.init) {
            let allPositive = (node.attributes["class_weights"]?.floats ?? []).allSatisfy { $0 >= 0 }
            return Kernel { inputs in
                let input = try required(inputs, 0, "TreeEnsembleClassifier")
                let rows = input.matrixShape.rows
                let values = try ensemble.scores(input)
                var probabilities = [Double](repeating: 0, count: rows * 2)
                var chosen = [Int](repeating: 0, count: rows)
                for row in 0..<rows {
                    let positive = values[row * 2 + scored]
                    chosen[row] = positive > (allPositive ? 0.5 : 0) ? 1 : 0
                    let pair: (Double, Double)
                    if allPositive {
                        pair = (1 - positive, positive)
                    } else if transform == .logistic {
                        pair = (1 / (1 + exp(positive)), 1 / (1 + exp(-positive)))
                    } else {
                        pair = (-positive, positive)
                    }
                    (probabilities[row * 2], probabilities[row * 2 + 1]) = pair
                }
                return [labels.pick(chosen), labeled(Tensor(shape: [rows, 2], storage: .double(probabilities), elementType: .float), names)]
            }
        }
        return Kernel { inputs in
            let input = try required(inputs, 0, "TreeEnsembleClassifier")
            let rows = input.matrixShape.rows
            let scores = Tensor(shape: [rows, max(names.count, 1)], storage: .double(try ensemble.scores(input)), elementType: .float)
            let transformed = try transform.apply(scores, "TreeEnsembleClassifier")
            return [try argmaxLabels(transformed, labels: labels, rows: rows, binaryThreshold: nil), labeled(transformed, names)]
        }
    }
}
