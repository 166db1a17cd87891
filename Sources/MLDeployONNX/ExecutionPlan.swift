import MLDeploy

/// An ONNX graph compiled once, when the model loads: every value the graph names gets a slot
/// number, every node becomes a step with its kernel (attributes already read) and the slots it
/// reads and writes. Scoring is then a walk over an array — no name lookups, no attribute reads —
/// which is what makes a one-row call cheap.
///
/// Compiling is also where the model is checked: an operator the engine does not run, an
/// attribute value it does not support, or a node that reads a value nothing before it produces
/// is reported here, at deploy time, never while scoring.
struct ExecutionPlan: Sendable {
    /// One node, compiled.
    struct Step: Sendable {
        /// The slot of each input; `-1` for an absent optional input.
        var inputs: [Int]
        /// The slot of each output; `-1` for an output nothing uses.
        var outputs: [Int]
        var kernel: Operators.Kernel
    }

    /// The slots before a call: initializers in place, everything else empty.
    private let initial: [Tensor?]
    /// The slot of each model input, in `inputNames` order.
    private let inputSlots: [Int]
    /// The slot of each model output, in order.
    private let outputSlots: [Int]
    private let steps: [Step]
    /// The most inputs any step takes (the argument buffer is sized once per call).
    private let widestStep: Int

    /// Compiles `graph`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` naming the operator or attribute the
    ///   engine does not run; ``MLDeploy/MLDeployError/Code/invalidArgument`` for a graph that
    ///   reads a value before it is produced or never produces an output.
    init(graph: GraphProto, opsets: [String: Int64], initializers: [String: Tensor], inputNames: [String]) throws {
        var slots: [String: Int] = [:]
        var initial: [Tensor?] = []
        func newSlot(_ name: String) -> Int {
            initial.append(nil)
            slots[name] = initial.count - 1
            return initial.count - 1
        }
        for (name, tensor) in initializers.sorted(by: { $0.key < $1.key }) { initial[newSlot(name)] = tensor }
        self.inputSlots = inputNames.map { slots[$0] ?? newSlot($0) }
        var steps: [Step] = []
        for node in graph.nodes {
            let label = "'\(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType)' (node '\(node.name)')"
            guard let compiler = Operators.compiler(for: node) else {
                throw MLDeployError(
                    code: .unsupported,
                    message: "Unsupported ONNX operator \(label). Supported: \(Operators.supported.sorted().joined(separator: ", "))."
                )
            }
            var constants: [Int: Tensor] = [:]
            let inputs = try node.inputs.enumerated().map { position, name -> Int in
                if name.isEmpty { return -1 }
                guard let slot = slots[name] else {
                    throw MLDeployError(code: .invalidArgument, message: "Operator \(label) reads '\(name)', which nothing before it produces.")
                }
                if let constant = initializers[name] { constants[position] = constant }
                return slot
            }
            let context = Operators.CompileContext(node: node, opset: opsets[node.domain] ?? 1, constants: constants)
            let kernel: Operators.Kernel
            do {
                kernel = try compiler(context)
            } catch let error as MLDeployError {
                throw MLDeployError(code: error.code, message: "Operator \(label): \(error.message)")
            }
            let outputs = node.outputs.map { $0.isEmpty ? -1 : newSlot($0) }
            steps.append(Step(inputs: inputs, outputs: outputs, kernel: kernel))
        }
        self.outputSlots = try graph.outputs.map { output in
            guard let slot = slots[output.name] else {
                throw MLDeployError(code: .invalidArgument, message: "The model's output '\(output.name)' is not produced by any node.")
            }
            return slot
        }
        self.initial = initial
        self.steps = steps
        self.widestStep = steps.map(\.inputs.count).max() ?? 0
    }

    /// Runs the graph on `inputs` (one tensor per model input, in order) and returns the model's
    /// outputs, in order.
    func run(_ inputs: [Tensor]) throws -> [Tensor] {
        var slots = self.initial
        for (slot, tensor) in zip(self.inputSlots, inputs) { slots[slot] = tensor }
        var arguments: [Tensor?] = []
        arguments.reserveCapacity(self.widestStep)
        for step in self.steps {
            arguments.removeAll(keepingCapacity: true)
            for slot in step.inputs { arguments.append(slot < 0 ? nil : slots[slot]) }
            let outputs = try step.kernel(arguments)
            for (slot, output) in zip(step.outputs, outputs) where slot >= 0 { slots[slot] = output }
        }
        return try self.outputSlots.map { slot in
            guard let value = slots[slot] else { throw MLDeployError(code: .invalidArgument, message: "The model did not produce all its outputs.") }
            return value
        }
    }
}
