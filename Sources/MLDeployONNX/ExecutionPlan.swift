import MLDeploy

/// An ONNX graph compiled once, when the model loads: every value the graph computes gets a slot
/// number, every node becomes a step with its kernel (attributes already read) and where its
/// arguments come from. Scoring is then a walk over an array — no name lookups, no attribute
/// reads — which is what makes a one-row call cheap.
///
/// Compiling is also where the model is checked: an operator the engine does not run, an
/// attribute value it does not support, or a node that reads a value nothing before it produces
/// is reported here, at deploy time, never while scoring.
///
/// Two things make a call cheaper still. Constants (initializers) are handed to kernels from the
/// plan itself, never copied into the per-call slots. And a dense layer — `MatMul` by a constant
/// matrix, then `Add` of a constant row-vector bias, then optionally `Relu`, `Sigmoid` or `Tanh`,
/// as adjacent nodes whose intermediate values nothing else reads — is fused into one step with
/// one output buffer, the way ONNX runtimes fuse them (scikit-learn's MLPs export exactly this).
struct ExecutionPlan: Sendable {
    /// Where a step's argument comes from.
    enum Argument: Sendable {
        /// An absent optional input.
        case absent
        /// A constant of the model.
        case constant(Tensor)
        /// A value computed during the call; `last` when no later step (and no output) reads it,
        /// so it is moved out of its slot rather than copied.
        case slot(Int, last: Bool)
    }

    /// One node (or a fused run of nodes), compiled.
    struct Step: Sendable {
        var arguments: [Argument]
        /// The slot of each output; `-1` for an output nothing uses.
        var outputs: [Int]
        var kernel: Operators.Kernel
    }

    /// A model output: a value computed during the call, or (rarely) a constant.
    private enum Output: Sendable {
        case slot(Int)
        case constant(Tensor)
    }

    /// The number of slots a call needs.
    private let slotCount: Int
    /// The slot of each model input, in `inputNames` order.
    private let inputSlots: [Int]
    private let outputs: [Output]
    private let steps: [Step]
    /// The most arguments any step takes (the argument buffer is sized once per call).
    private let widestStep: Int

    /// Compiles `graph`, each operator at the version `opsets` select for it.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` naming the operator, its version or the
    ///   attribute the engine does not run; ``MLDeploy/MLDeployError/Code/invalidArgument`` for a
    ///   graph that reads a value before it is produced or never produces an output.
    init(graph: GraphProto, initializers: [String: Tensor], inputNames: [String], opsets: [String: Int64]) throws {
        var slots: [String: Int] = [:]
        var slotCount = 0
        func newSlot(_ name: String) -> Int {
            slots[name] = slotCount
            slotCount += 1
            return slotCount - 1
        }
        self.inputSlots = inputNames.map(newSlot)
        let nodes = graph.nodes
        // Every node's operator version first, fused or not: an unsupported version is refused
        // whatever the plan would make of the node.
        let versions = try nodes.map { try OperatorVersions.version(of: $0, opsets: opsets) }
        // Which node reads each value last (graph outputs are read after every node).
        var lastReader: [String: Int] = [:]
        var readers: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for name in node.inputs where !name.isEmpty {
                lastReader[name] = index
                readers[name, default: 0] += 1
            }
        }
        for output in graph.outputs {
            lastReader[output.name] = nodes.count
            readers[output.name, default: 0] += 1
        }

        var steps: [Step] = []
        var index = 0
        while index < nodes.count {
            let node = nodes[index]
            let label = "'\(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType)' (node '\(node.name)')"
            /// The argument for `name`, read by node `reader` (`again` when that node reads it
            /// once more further on, so it must stay in its slot).
            func argument(_ name: String, readBy reader: Int, again: Bool = false) throws -> Argument {
                if name.isEmpty { return .absent }
                if let slot = slots[name] { return .slot(slot, last: !again && lastReader[name] == reader) }
                if let constant = initializers[name] { return .constant(constant) }
                throw MLDeployError(code: .invalidArgument, message: "Operator \(label) reads '\(name)', which nothing before it produces.")
            }
            if let fused = Self.fuseDense(nodes, at: index, initializers: initializers, readers: readers) {
                let outputs = [newSlot(nodes[index + fused.length - 1].outputs[0])]
                steps.append(Step(arguments: [try argument(node.inputs[0], readBy: index)], outputs: outputs, kernel: fused.kernel))
                index += fused.length
                continue
            }
            guard let compiler = Operators.compiler(for: node) else {
                throw MLDeployError(
                    code: .unsupported,
                    message: "Unsupported ONNX operator \(label). Supported: \(Operators.supported.sorted().joined(separator: ", "))."
                )
            }
            let arguments = try node.inputs.enumerated().map { position, name in
                try argument(name, readBy: index, again: node.inputs[(position + 1)...].contains(name))
            }
            var constants: [Int: Tensor] = [:]
            for (position, argument) in arguments.enumerated() {
                if case .constant(let tensor) = argument { constants[position] = tensor }
            }
            let context = Operators.CompileContext(node: node, version: versions[index], constants: constants)
            let kernel: Operators.Kernel
            do {
                kernel = try compiler(context)
            } catch let error as MLDeployError {
                throw MLDeployError(code: error.code, message: "Operator \(label): \(error.message)")
            }
            steps.append(Step(arguments: arguments, outputs: node.outputs.map { $0.isEmpty ? -1 : newSlot($0) }, kernel: kernel))
            index += 1
        }
        self.outputs = try graph.outputs.map { output in
            if let slot = slots[output.name] { return .slot(slot) }
            if let constant = initializers[output.name] { return .constant(constant) }
            throw MLDeployError(code: .invalidArgument, message: "The model's output '\(output.name)' is not produced by any node.")
        }
        self.slotCount = slotCount
        self.steps = steps
        self.widestStep = steps.map(\.arguments.count).max() ?? 0
    }

    /// A dense layer starting at `index` — MatMul by a constant matrix, Add of a constant bias
    /// that broadcasts as a row vector, optionally an activation — as one kernel, with the number
    /// of nodes it replaces; `nil` when the nodes there are not one.
    private static func fuseDense(
        _ nodes: [NodeProto], at index: Int, initializers: [String: Tensor], readers: [String: Int]
    ) -> (kernel: Operators.Kernel, length: Int)? {
        let matMul = nodes[index]
        guard matMul.domain.isEmpty, matMul.opType == "MatMul", matMul.inputs.count == 2, matMul.outputs.count == 1,
            let weightTensor = initializers[matMul.inputs[1]], weightTensor.shape.count == 2,
            let weights = try? Operators.Matrix(right: weightTensor),
            index + 1 < nodes.count
        else { return nil }
        let product = matMul.outputs[0]
        let add = nodes[index + 1]
        guard add.domain.isEmpty, add.opType == "Add", add.inputs.count == 2, add.outputs.count == 1, readers[product] == 1,
            let biasName = add.inputs.first(where: { $0 != product }), add.inputs.contains(product),
            let biasTensor = initializers[biasName], biasTensor.count == weights.columns,
            biasTensor.shape.last == weights.columns, biasTensor.shape.dropLast().allSatisfy({ $0 == 1 }),
            biasTensor.shape.count <= 2,
            let bias = try? biasTensor.numbers("Add")
        else { return nil }
        var length = 2
        var activation: Operators.Activation?
        if index + 2 < nodes.count {
            let next = nodes[index + 2]
            if next.domain.isEmpty, let function = Operators.Activation(opType: next.opType), next.inputs == [add.outputs[0]],
                next.outputs.count == 1, readers[add.outputs[0]] == 1 {
                activation = function
                length = 3
            }
        }
        return (Operators.dense(weights, bias: bias, activation: activation), length)
    }

    /// Runs the graph on `inputs` (one tensor per model input, in order) and returns the model's
    /// outputs, in order.
    func run(_ inputs: [Tensor]) throws -> [Tensor] {
        var slots = [Tensor?](repeating: nil, count: self.slotCount)
        for (slot, tensor) in zip(self.inputSlots, inputs) { slots[slot] = tensor }
        var arguments: [Tensor?] = []
        arguments.reserveCapacity(self.widestStep)
        for step in self.steps {
            arguments.removeAll(keepingCapacity: true)
            for argument in step.arguments {
                switch argument {
                case .absent: arguments.append(nil)
                case .constant(let tensor): arguments.append(tensor)
                case .slot(let slot, let last): arguments.append(last ? slots[slot].take() : slots[slot])
                }
            }
            let outputs = try step.kernel.run(arguments)
            for (slot, output) in zip(step.outputs, outputs) where slot >= 0 { slots[slot] = output }
        }
        return try self.outputs.map { output in
            switch output {
            case .constant(let tensor): return tensor
            case .slot(let slot):
                guard let value = slots[slot] else { throw MLDeployError(code: .invalidArgument, message: "The model did not produce all its outputs.") }
                return value
            }
        }
    }
}
