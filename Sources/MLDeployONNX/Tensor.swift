import MLDeploy

/// A value flowing through an ONNX graph: a shape and its elements, row-major.
///
/// Numbers are held as `Double` whatever their ONNX type (`elementType` remembers it, so a float
/// model's outputs are rounded to float as an ONNX runtime would produce them); labels as `Int64` or
/// `String`.
struct Tensor: Sendable {
    enum Storage: Sendable {
        case double([Double])
        case int64([Int64])
        case string([String])

        /// The slices at `indices` along one axis (Gather, ArrayFeatureExtractor), the elements
        /// seen as `outer` blocks of `size` slices of `inner` elements each.
        func gathered(outer: Int, size: Int, inner: Int, indices: [Int]) -> Storage {
            func gather<T>(_ values: [T]) -> [T] {
                var output: [T] = []
                output.reserveCapacity(outer * indices.count * inner)
                for block in 0..<outer {
                    for index in indices {
                        let start = (block * size + index) * inner
                        output.append(contentsOf: values[start..<(start + inner)])
                    }
                }
                return output
            }
            switch self {
            case .double(let values): return .double(gather(values))
            case .int64(let values): return .int64(gather(values))
            case .string(let values): return .string(gather(values))
            }
        }
    }

    var shape: [Int]
    var storage: Storage
    var elementType: ElementType
    /// Class labels naming the last axis (ZipMap's output, classifier probabilities).
    var columnLabels: [String]?

    init(shape: [Int], storage: Storage, elementType: ElementType, columnLabels: [String]? = nil) {
        self.shape = shape
        self.storage = storage
        self.elementType = elementType
        self.columnLabels = columnLabels
    }

    static func doubles(_ values: [Double], shape: [Int], type: ElementType = .float) -> Tensor {
        Tensor(shape: shape, storage: .double(values), elementType: type)
    }

    var count: Int {
        switch self.storage {
        case .double(let values): return values.count
        case .int64(let values): return values.count
        case .string(let values): return values.count
        }
    }

    /// `number` as an integer (toward zero), or an error for NaN, infinity or a number beyond
    /// Int64 — which Swift's conversion would trap on, taking the whole process down.
    static func integer(_ number: Double, _ context: String) throws -> Int64 {
        guard number.isFinite, number > -9.223372036854775808e18, number < 9.223372036854775808e18 else {
            throw MLDeployError(code: .invalidValue, message: "\(context) needs integers, but got \(number).")
        }
        return Int64(number.rounded(.towardZero))
    }

    /// The elements as numbers (labels that are integers convert; strings do not).
    func numbers(_ context: String) throws -> [Double] {
        switch self.storage {
        case .double(let values): return values
        case .int64(let values): return values.map(Double.init)
        case .string: throw MLDeployError(code: .invalidValue, message: "\(context) needs numbers, but got text.")
        }
    }

    func integers(_ context: String) throws -> [Int64] {
        switch self.storage {
        case .int64(let values): return values
        case .double(let values): return try values.map { try Tensor.integer($0, context) }
        case .string: throw MLDeployError(code: .invalidValue, message: "\(context) needs integers, but got text.")
        }
    }

    /// Rows and columns of a matrix-like tensor: a vector is one row; higher ranks fold into rows.
    var matrixShape: (rows: Int, columns: Int) {
        switch self.shape.count {
        case 0: return (1, 1)
        case 1: return (1, self.shape[0])
        default: return (self.shape.dropLast().reduce(1, *), self.shape.last!)
        }
    }
}
