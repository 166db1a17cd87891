/// What a model declares of its inputs and outputs, for protocols that describe models by their
/// tensors (the Open Inference Protocol's model metadata).
extension ONNXModel {
    /// One input or output as the model declares it.
    public struct TensorSignature: Sendable, Hashable {
        /// The tensor's name.
        public var name: String
        /// The element type as ONNX names it (`float`, `double`, `int64`, `int32`, `int8`, `uint8`,
        /// `string`, `bool`), or `nil` when the model does not say.
        public var elementType: String?
        /// The dimensions: a size, or `nil` for a symbolic or unknown one (the batch dimension).
        public var shape: [Int?]
        /// Whether the value is a sequence of maps (a classifier's ZipMap output: one map of class
        /// to probability per row), scored here as one column per class.
        public var isSequenceOfMaps: Bool
    }

    /// The model's inputs, in order (initializers excluded).
    public var inputSignatures: [TensorSignature] { self.inputs.map(Self.signature) }

    /// The model's outputs, in order.
    public var outputSignatures: [TensorSignature] { self.outputs.map(Self.signature) }

    private static func signature(_ value: ValueInfoProto) -> TensorSignature {
        let type: String? = switch value.elementType.flatMap(ElementType.init(rawValue:)) {
        case .float?: "float"
        case .double?: "double"
        case .int64?: "int64"
        case .int32?: "int32"
        case .int8?: "int8"
        case .uint8?: "uint8"
        case .string?: "string"
        case .bool?: "bool"
        case nil: nil
        }
        return TensorSignature(name: value.name, elementType: type, shape: value.shape, isSequenceOfMaps: value.isSequence)
    }
}
