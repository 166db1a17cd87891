import Foundation
import MLDeploy

/// ONNX-ML's TreeEnsembleRegressor and TreeEnsembleClassifier: every tree is walked from its root
/// to a leaf for each row, and the leaves' weights are aggregated per target (or class).
struct TreeEnsemble: Sendable {
    enum Mode: Sendable { case leq, lt, gte, gt, eq, neq, leaf }

    /// 24 bytes: a tree of a few hundred nodes stays in the first-level cache while a batch
    /// walks it.
    struct Node: Sendable {
        var value = 0.0
        var feature: Int32 = 0
        var trueChild: Int32 = -1
        var falseChild: Int32 = -1
        var mode: Mode = .leaf
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
    /// Every branch compares the same way and a missing value (NaN) always takes the false branch
    /// — scikit-learn and LightGBM export `BRANCH_LEQ`, XGBoost `BRANCH_LT` — so the walk can
    /// skip the per-node mode switch and NaN test (NaN fails `<=` and `<` by itself).
    var uniformBranch: Mode?
    /// For models with a uniform branch mode: the nodes with every leaf made its own child, and
    /// each tree's depth, so several rows walk a tree together for exactly its depth with no test
    /// for having arrived (see ``scores(_:)``). Empty when the trees cannot be walked so.
    var lockstepNodes: [Node] = []
    var depths: [Int] = []
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
            guard let feature = Int32(exactly: features[position]) else {
                throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' has a feature index out of range.")
            }
            built.feature = feature
            built.value = values[position]
            if built.mode != .leaf {
                guard let trueChild = index[treeIDs[position]]?[trueIDs[position]], let falseChild = index[treeIDs[position]]?[falseIDs[position]] else {
                    throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' has a branch to a node that does not exist.")
                }
                built.trueChild = Int32(trueChild)
                built.falseChild = Int32(falseChild)
            }
            built.missingTracksTrue = position < missing.count && missing[position] != 0
            if built.mode != .leaf {
                guard built.feature >= 0 else { throw MLDeployError(code: .invalidValue, message: "\(node.opType) '\(node.name)' branches on a negative feature index.") }
                self.highestFeature = Swift.max(self.highestFeature, Int(built.feature))
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
        for built in self.nodes where built.mode != .leaf { children.insert(Int(built.trueChild)); children.insert(Int(built.falseChild)) }
        for position in 0..<count where !children.contains(position) && roots[treeIDs[position]] == nil { roots[treeIDs[position]] = position }
        self.roots = roots.sorted { $0.key < $1.key }.map(\.value)
        self.targets = targets
        let branches = self.nodes.filter { $0.mode != .leaf }
        if let mode = branches.first?.mode, mode == .leq || mode == .lt, branches.allSatisfy({ $0.mode == mode && !$0.missingTracksTrue }) {
            self.uniformBranch = mode
        }
        switch attributes["aggregate_function"]?.string ?? "SUM" {
        case "SUM": self.aggregate = .sum
        case "AVERAGE": self.aggregate = .average
        case "MIN": self.aggregate = .min
        case "MAX": self.aggregate = .max
        case let other: throw MLDeployError(code: .unsupported, message: "\(node.opType) aggregate function \(other) is not supported.")
        }
        // Version 3 (ai.onnx.ml opset 3) may give the base values as a double tensor instead.
        self.baseValues = try attributes["base_values"]?.floats.map { Double($0) } ?? attributes["base_values_as_tensor"]?.tensor?.tensor().numbers("base values") ?? []
        if self.uniformBranch != nil { self.prepareLockstep() }
    }


    /// Builds ``lockstepNodes`` and ``depths``; leaves them empty if a tree is not a tree (a node
    /// reached twice, which would also make the depth meaningless).
    private mutating func prepareLockstep() {
        var nodes = self.nodes
        for index in nodes.indices where nodes[index].mode == .leaf {
            nodes[index].trueChild = Int32(index)
            nodes[index].falseChild = Int32(index)
            nodes[index].feature = 0
        }
        var depths: [Int] = []
        var visited = [Bool](repeating: false, count: nodes.count)
        for root in self.roots {
            var deepest = 0
            var stack = [(root, 0)]
            while let (position, depth) = stack.popLast() {
                guard !visited[position] else { return }
                visited[position] = true
                let node = self.nodes[position]
                if node.mode == .leaf {
                    deepest = max(deepest, depth)
                } else {
                    stack.append((Int(node.trueChild), depth + 1))
                    stack.append((Int(node.falseChild), depth + 1))
                }
            }
            depths.append(deepest)
        }
        self.lockstepNodes = nodes
        self.depths = depths
    }

    /// The leaves four rows reach in the tree at `root` of depth `depth`, walked together on
    /// ``lockstepNodes``: `depth` steps each, a leaf stepping to itself. The four walks are
    /// independent, so the processor overlaps their memory reads, and the step is a selection, not
    /// a branch to mispredict.
    @inline(__always)
    static func lockstepLeaves(
        _ nodes: UnsafePointer<Node>, _ root: Int, depth: Int, _ rows: UnsafePointer<Double>, features: Int, strict: Bool
    ) -> (Int, Int, Int, Int) {
        let x0 = rows, x1 = rows + features, x2 = rows + 2 * features, x3 = rows + 3 * features
        var p0 = root, p1 = root, p2 = root, p3 = root
        @inline(__always) func step(_ position: Int, _ row: UnsafePointer<Double>) -> Int {
            let node = nodes[position]
            let x = row[Int(node.feature)]
            return Int((strict ? x < node.value : x <= node.value) ? node.trueChild : node.falseChild)
        }
        for _ in 0..<depth {
            p0 = step(p0, x0)
            p1 = step(p1, x1)
            p2 = step(p2, x2)
            p3 = step(p3, x3)
        }
        return (p0, p1, p2, p3)
    }

    /// The leaf a row reaches in the tree rooted at `root`, every branch deciding by `goesTrue`.
    @inline(__always)
    static func walk(_ nodes: UnsafePointer<Node>, _ root: Int, _ row: UnsafePointer<Double>, _ goesTrue: (Double, Double) -> Bool) -> Int {
        var position = root
        while true {
            let node = nodes[position]
            if node.mode == .leaf { return position }
            position = Int(goesTrue(row[Int(node.feature)], node.value) ? node.trueChild : node.falseChild)
        }
    }

    /// The leaf a row reaches in the tree rooted at `root`, any branch mode.
    @inline(__always)
    static func leaf(_ nodes: UnsafePointer<Node>, _ root: Int, _ row: UnsafePointer<Double>) -> Int {
        var position = root
        while true {
            let node = nodes[position]
            if node.mode == .leaf { return position }
            let x = row[Int(node.feature)]
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
            // As ONNX runtimes read it: the comparison decides, and a missing value (NaN) also
            // goes true where the node says so (NaN fails every comparison but `!=`).
            position = Int(goesTrue || (node.missingTracksTrue && x.isNaN) ? node.trueChild : node.falseChild)
        }
    }

    /// Aggregated scores, `rows × targets`, base values added.
    ///
    /// Tree by tree, each walked by every row in turn: one tree's nodes stay in cache for the
    /// whole batch, where row by row every tree would be fetched again for each row.
    func scores(_ input: Tensor) throws -> [Double] {
        let values = try input.numbers("tree ensemble")
        let (rows, features) = input.matrixShape
        guard self.highestFeature < features else {
            throw MLDeployError(code: .inputMismatch, message: "The tree ensemble reads feature \(self.highestFeature), but the input has \(features) per row.")
        }
        let targets = self.targets
        var output = [Double](repeating: 0, count: rows * targets)
        // MIN and MAX start from a tree's first weight, not from zero.
        var seen = [Bool](repeating: false, count: self.aggregate == .min || self.aggregate == .max ? rows * targets : 0)
        values.withUnsafeBufferPointer { data in
            self.nodes.withUnsafeBufferPointer { nodes in
                self.weightStart.withUnsafeBufferPointer { starts in
                    self.weightTargets.withUnsafeBufferPointer { weightTargets in
                        self.weightValues.withUnsafeBufferPointer { weightValues in
                            output.withUnsafeMutableBufferPointer { output in
                                guard let data = data.baseAddress, let nodes = nodes.baseAddress, let sums = output.baseAddress else { return }
                                let summing = self.aggregate == .sum || self.aggregate == .average
                                /// Each row's leaf in the tree at `root`, with the walk the model needs.
                                @inline(__always) func leaf(_ root: Int, _ row: UnsafePointer<Double>) -> Int {
                                    switch self.uniformBranch {
                                    case .leq: return Self.walk(nodes, root, row) { $0 <= $1 }
                                    case .lt: return Self.walk(nodes, root, row) { $0 < $1 }
                                    default: return Self.leaf(nodes, root, row)
                                    }
                                }
                                let lockstep = summing && !self.lockstepNodes.isEmpty
                                let strict = self.uniformBranch == .lt
                                for (tree, root) in self.roots.enumerated() {
                                    var row = 0
                                    if lockstep {
                                        self.lockstepNodes.withUnsafeBufferPointer { walked in
                                            let walked = walked.baseAddress!
                                            @inline(__always) func add(_ leaf: Int, _ row: Int) {
                                                let scores = sums + row * targets
                                                for index in starts[leaf]..<starts[leaf + 1] { scores[weightTargets[index]] += weightValues[index] }
                                            }
                                            while row + 4 <= rows {
                                                let (l0, l1, l2, l3) = Self.lockstepLeaves(walked, root, depth: self.depths[tree], data + row * features, features: features, strict: strict)
                                                add(l0, row)
                                                add(l1, row + 1)
                                                add(l2, row + 2)
                                                add(l3, row + 3)
                                                row += 4
                                            }
                                        }
                                    }
                                    for row in row..<rows {
                                        let leaf = leaf(root, data + row * features)
                                        let scores = sums + row * targets
                                        if summing {
                                            for index in starts[leaf]..<starts[leaf + 1] { scores[weightTargets[index]] += weightValues[index] }
                                            continue
                                        }
                                        for index in starts[leaf]..<starts[leaf + 1] {
                                            let target = weightTargets[index], weight = weightValues[index]
                                            let first = !seen[row * targets + target]
                                            seen[row * targets + target] = true
                                            scores[target] = first ? weight : (self.aggregate == .min ? Swift.min(scores[target], weight) : Swift.max(scores[target], weight))
                                        }
                                    }
                                }
                                let trees = Double(Swift.max(self.roots.count, 1))
                                for row in 0..<rows {
                                    let scores = sums + row * targets
                                    for target in 0..<targets {
                                        if self.aggregate == .average { scores[target] /= trees }
                                        if target < self.baseValues.count { scores[target] += self.baseValues[target] }
                                    }
                                }
                            }
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
        // onnxruntime derives the second class only from weights given as the float list
        // `class_weights`; with version 3's `class_weights_as_tensor` it scores both classes as
        // they are (the other class 0), and so does this engine.
        if names.count == 2, classIDs.count == 1, let scored = classIDs.first.map(Int.init), let listed = node.attributes["class_weights"]?.floats {
            let allPositive = listed.allSatisfy { $0 >= 0 }
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
