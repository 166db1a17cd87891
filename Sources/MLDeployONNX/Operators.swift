import MLDeploy

/// The operators the engine runs, by domain and name.
///
/// Each operator is a *compiler*: when a model loads it reads its node's attributes (and any
/// constant inputs) once, refuses what it cannot run, and returns a *kernel* that does only the
/// arithmetic at scoring time. Reading attributes per call — dictionary lookups, `Set`s of tree
/// ids, transposed weight matrices — was most of the cost of a one-row call.
enum Operators {
    /// A node's work at scoring time: its inputs (absent optional inputs are `nil`) to its outputs.
    ///
    /// A struct rather than a bare closure type: closures kept in generic containers (the
    /// operator tables) are called through reabstraction thunks, which cost a one-row call
    /// measurable retains and releases; a closure inside a struct is stored as it is.
    struct Kernel: Sendable {
        let run: @Sendable ([Tensor?]) throws -> [Tensor]

        init(_ run: @escaping @Sendable ([Tensor?]) throws -> [Tensor]) {
            self.run = run
        }
    }

    /// Reads a node once, at load, and returns its kernel; throws for what it cannot run.
    typealias Compiler = @Sendable (CompileContext) throws -> Kernel

    /// What a compiler may know about a node before any data flows.
    struct CompileContext {
        /// The node being compiled.
        var node: NodeProto
        /// The version of the node's operator the model's opset selects (its since-version), for
        /// attributes whose meaning or default changed between versions.
        var version: Int64
        /// The node's inputs that are initializers (constants), by input position.
        var constants: [Int: Tensor]

        var attributes: [String: AttributeProto] { self.node.attributes }

        /// The constant at input `index`, if that input is an initializer.
        func constant(_ index: Int) -> Tensor? { self.constants[index] }
    }

    /// The compiler for `node`'s operator, or `nil` if the engine does not run it.
    static func compiler(for node: NodeProto) -> Compiler? {
        switch node.domain {
        case "": return Self.core[node.opType]
        case "ai.onnx.ml": return Self.ml[node.opType]
        default: return nil
        }
    }

    /// Every operator name, for messages.
    static var supported: Set<String> {
        Set(Self.core.keys).union(Self.ml.keys.map { "ai.onnx.ml.\($0)" })
    }

    /// Input `index`, which the operator needs.
    static func required(_ inputs: [Tensor?], _ index: Int, _ op: String) throws -> Tensor {
        guard index < inputs.count, let tensor = inputs[index] else {
            throw MLDeployError(code: .invalidArgument, message: "\(op) is missing its input \(index).")
        }
        return tensor
    }

    /// A kernel that has no attributes to read: the compiler just returns it.
    static func stateless(_ run: @escaping @Sendable ([Tensor?]) throws -> [Tensor]) -> Compiler {
        let kernel = Kernel(run)
        return { _ in kernel }
    }
}
