import MLDeploy

/// One named tensor of an inference request or response: its element type, its shape and its
/// elements in row-major order.
public struct OIPTensor: Sendable, Hashable {
    /// The elements, in the representation their datatype needs.
    public enum Elements: Sendable, Hashable {
        /// `BOOL` elements.
        case bools([Bool])
        /// Signed integer elements (`INT8` … `INT64`).
        case integers([Int64])
        /// Unsigned integer elements (`UINT8` … `UINT64`).
        case unsigned([UInt64])
        /// Floating point elements (`FP16`, `FP32`, `FP64`), kept as doubles.
        case numbers([Double])
        /// `BYTES` elements.
        case bytes([[UInt8]])

        /// How many elements there are.
        public var count: Int {
            switch self {
            case .bools(let values): return values.count
            case .integers(let values): return values.count
            case .unsigned(let values): return values.count
            case .numbers(let values): return values.count
            case .bytes(let values): return values.count
            }
        }

        /// The elements as doubles, or `nil` for `BOOL` and `BYTES`.
        public var doubles: [Double]? {
            switch self {
            case .numbers(let values): return values
            case .integers(let values): return values.map(Double.init)
            case .unsigned(let values): return values.map(Double.init)
            case .bools, .bytes: return nil
            }
        }
    }

    /// The tensor's name: an input or output of the model.
    public var name: String
    /// The element type.
    public var datatype: OIPDatatype
    /// The size of each dimension (`-1` marks a variable one in metadata, never in data).
    public var shape: [Int]
    /// The elements, row-major.
    public var elements: Elements
    /// The tensor's parameters (`binary_data_size`, `content_type`, …).
    public var parameters: JSONObject

    /// Creates a tensor. The shape must hold exactly as many elements as given; ``validate()`` says
    /// so when it does not.
    public init(name: String, datatype: OIPDatatype, shape: [Int], elements: Elements, parameters: JSONObject = [:]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.elements = elements
        self.parameters = parameters
    }

    /// The number of elements the shape holds.
    public var elementCount: Int { self.shape.reduce(1, *) }

    /// Checks that the shape is well formed and holds exactly the elements there are.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming the tensor, its shape and the
    ///   element count.
    public func validate() throws {
        guard self.shape.allSatisfy({ $0 >= 0 }) else {
            throw MLDeployError(code: .invalidArgument, message: "Tensor '\(self.name)' has shape \(self.shape); every dimension must be 0 or more.")
        }
        guard self.elementCount == self.elements.count else {
            throw MLDeployError(
                code: .invalidArgument,
                message: "Tensor '\(self.name)' has shape \(self.shape), which holds \(self.elementCount) elements, but \(self.elements.count) were given."
            )
        }
    }
}
