#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif
import Foundation
import MLDeploy

extension Operators {
    static func map(_ inputs: [Tensor?], _ op: String, _ transform: (Double) -> Double) throws -> Tensor {
        let input = try required(inputs, 0, op)
        return Tensor(shape: input.shape, storage: .double(try input.numbers(op).map(transform)), elementType: input.elementType == .double ? .double : .float)
    }

    /// Element-wise with numpy broadcasting. The shapes small models produce — equal shapes, and a
    /// matrix with a row vector (a bias) — take direct loops; everything else the general walk.
    static func broadcast(_ inputs: [Tensor?], _ op: String, _ combine: (Double, Double) -> Double) throws -> Tensor {
        let a = try required(inputs, 0, op), b = try required(inputs, 1, op)
        let x = try a.numbers(op), y = try b.numbers(op)
        let type: ElementType = a.elementType == .double || b.elementType == .double ? .double : .float
        if a.shape == b.shape {
            var output = x
            for index in output.indices { output[index] = combine(x[index], y[index]) }
            return Tensor(shape: a.shape, storage: .double(output), elementType: type)
        }
        if let width = a.shape.last, a.shape.count >= b.shape.count, y.count == width, b.shape.allSatisfy({ $0 == 1 || $0 == width }), b.shape.last == width {
            var output = x
            var index = 0
            while index < output.count {
                for column in 0..<width { output[index + column] = combine(x[index + column], y[column]) }
                index += width
            }
            return Tensor(shape: a.shape, storage: .double(output), elementType: type)
        }
        let rank = max(a.shape.count, b.shape.count)
        let left = Array(repeating: 1, count: rank - a.shape.count) + a.shape, right = Array(repeating: 1, count: rank - b.shape.count) + b.shape
        var shape: [Int] = []
        for (l, r) in zip(left, right) {
            guard l == r || l == 1 || r == 1 else { throw MLDeployError(code: .invalidValue, message: "\(op) cannot broadcast \(a.shape) with \(b.shape).") }
            shape.append(max(l, r))
        }
        let count = shape.reduce(1, *)
        func strides(_ dims: [Int]) -> [Int] {
            var strides = Array(repeating: 0, count: dims.count), step = 1
            for axis in stride(from: dims.count - 1, through: 0, by: -1) {
                strides[axis] = dims[axis] == 1 ? 0 : step
                step *= dims[axis]
            }
            return strides
        }
        let leftStrides = strides(left), rightStrides = strides(right)
        var output = [Double](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        for flat in 0..<count {
            var i = 0, j = 0
            for axis in 0..<rank { i += index[axis] * leftStrides[axis]; j += index[axis] * rightStrides[axis] }
            output[flat] = combine(x[i], y[j])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, storage: .double(output), elementType: type)
    }

    /// The right operand of a matrix product, as numbers; built once at load when it is a constant.
    struct Matrix: Sendable {
        var values: [Double]
        var rows: Int
        var columns: Int
        /// A vector operand: the product drops the last axis.
        var isVector: Bool
        var elementType: ElementType
        /// The values in single precision, for a float matrix (multiplied with `cblas_sgemm`, as a
        /// float32 model is meant to be computed).
        var floats: [Float]?

        init(right tensor: Tensor) throws {
            guard tensor.shape.count <= 2, !tensor.shape.isEmpty else {
                throw MLDeployError(code: .unsupported, message: "MatMul with a right operand of rank \(tensor.shape.count) is not supported.")
            }
            self.values = try tensor.numbers("MatMul")
            self.isVector = tensor.shape.count == 1
            (self.rows, self.columns) = self.isVector ? (tensor.shape[0], 1) : (tensor.shape[0], tensor.shape[1])
            self.elementType = tensor.elementType
            self.floats = tensor.elementType == .float ? self.values.map { Float($0) } : nil
        }
    }

    /// `a · b`, `a`'s leading axes folded into rows.
    static func matMul(_ a: Tensor, _ b: Matrix) throws -> Tensor {
        let (rows, inner) = a.matrixShape
        guard inner == b.rows else { throw MLDeployError(code: .invalidValue, message: "MatMul cannot multiply \(a.shape) by a \(b.rows)×\(b.columns) matrix.") }
        let type: ElementType = a.elementType == .double ? .double : .float
        let output = multiply(try a.numbers("MatMul"), rows: rows, by: b, bias: nil, activation: nil, single: type == .float && b.elementType == .float)
        let shape = Array(a.shape.dropLast()) + (b.isVector ? [] : [b.columns])
        return Tensor(shape: shape, storage: .double(output), elementType: type)
    }

    /// An element-wise activation: the Relu, Sigmoid and Tanh operators, the one fused into a dense
    /// layer, and LOGISTIC post-transforms.
    enum Activation: Sendable {
        case relu, sigmoid, tanh

        init?(opType: String) {
            switch opType {
            case "Relu": self = .relu
            case "Sigmoid": self = .sigmoid
            case "Tanh": self = .tanh
            default: return nil
            }
        }

        @inline(__always)
        func callAsFunction(_ x: Double) -> Double {
            switch self {
            case .relu: return max(0, x)
            case .sigmoid: return 1 / (1 + exp(-x))
            case .tanh: return Foundation.tanh(x)
            }
        }

        /// Applies the activation to every value, choosing the function once (the loop of Relu,
        /// the common one, then vectorizes).
        func apply(to values: inout [Double]) {
            values.withUnsafeMutableBufferPointer { buffer in
                switch self {
                case .relu: for index in buffer.indices { buffer[index] = max(0, buffer[index]) }
                case .sigmoid: for index in buffer.indices { buffer[index] = 1 / (1 + exp(-buffer[index])) }
                case .tanh: for index in buffer.indices { buffer[index] = Foundation.tanh(buffer[index]) }
                }
            }
        }
    }

    /// From how many rows a product goes to BLAS: below it the call's fixed cost (and converting
    /// to single precision) outweighs what BLAS's kernels save, so one-row scoring keeps its loop.
    static let blasRows = 8

    /// How many rows one BLAS call multiplies: a frame's rows go in blocks of this many from its
    /// first row (the last block shorter).
    ///
    /// OpenBLAS picks its kernel by the matrices' sizes (a small-matrix kernel, edge tiles), and
    /// kernels round differently, so a row's answer could depend on how many rows it was sent
    /// with. In fixed blocks it does not: a frame split across cores is split at multiples of
    /// ``ONNXModel/rowsPerCore`` (a multiple of this), so each row meets the same block as in one
    /// call, and the split answer is bit for bit the single call's.
    static let blasBlockRows = 256

    /// Sets each of the `rows` rows of `matrix` to `row` (the bias a product is added to), a row's
    /// worth at a time: an index modulo the row length per element cost a 1,000-row dense layer as
    /// much as its multiplication.
    static func fill<Element>(_ matrix: inout [Element], rows: Int, with row: [Element]) {
        let columns = row.count
        guard columns > 0 else { return }
        matrix.withUnsafeMutableBufferPointer { target in
            row.withUnsafeBufferPointer { source in
                for index in 0..<rows { (target.baseAddress! + index * columns).update(from: source.baseAddress!, count: columns) }
            }
        }
    }

    /// The `(start, count)` of each BLAS block of `rows` rows.
    static func blasBlocks(_ rows: Int) -> [(start: Int, count: Int)] {
        stride(from: 0, to: rows, by: Self.blasBlockRows).map { ($0, min(Self.blasBlockRows, rows - $0)) }
    }

    /// `activation(x · b + bias)` for `rows` rows of `x`, in one output buffer. `single`: the
    /// operands are float32 values and are multiplied in single precision, as onnxruntime does.
    ///
    /// Frames of ``blasRows`` or more go to OpenBLAS (`cblas_sgemm` for float32, `cblas_dgemm`
    /// otherwise), whose kernels use the machine's widest vectors — the generic Swift build targets
    /// the baseline x86-64, two doubles a vector. Smaller ones run a loop on raw buffers: each output
    /// row starts as the bias and rows of `b` are accumulated into it.
    static func multiply(_ x: [Double], rows: Int, by b: Matrix, bias: [Double]?, activation: Activation?, single: Bool = false) -> [Double] {
        let inner = b.rows, columns = b.columns
        var output = [Double](repeating: 0, count: rows * columns)
        guard rows > 0, columns > 0 else { return output }
        if rows >= Self.blasRows, inner > 0 {
            BLAS.configure
            if single, let weights = b.floats {
                let left = x.map { Float($0) }
                var result = [Float](repeating: 0, count: rows * columns)
                if let bias { Self.fill(&result, rows: rows, with: bias.map { Float($0) }) }
                left.withUnsafeBufferPointer { left in
                    result.withUnsafeMutableBufferPointer { result in
                        for (start, count) in Self.blasBlocks(rows) {
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(columns), Int32(inner), 1, left.baseAddress! + start * inner, Int32(inner),
                                weights, Int32(columns), bias == nil ? 0 : 1, result.baseAddress! + start * columns, Int32(columns)
                            )
                        }
                    }
                }
                output.withUnsafeMutableBufferPointer { target in
                    for index in 0..<result.count { target[index] = Double(result[index]) }
                }
            } else {
                if let bias { Self.fill(&output, rows: rows, with: bias) }
                x.withUnsafeBufferPointer { left in
                    output.withUnsafeMutableBufferPointer { result in
                        for (start, count) in Self.blasBlocks(rows) {
                            cblas_dgemm(
                                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(columns), Int32(inner), 1, left.baseAddress! + start * inner, Int32(inner),
                                b.values, Int32(columns), bias == nil ? 0 : 1, result.baseAddress! + start * columns, Int32(columns)
                            )
                        }
                    }
                }
            }
            if let activation { activation.apply(to: &output) }
            return output
        }
        x.withUnsafeBufferPointer { left in
            b.values.withUnsafeBufferPointer { right in
                output.withUnsafeMutableBufferPointer { result in
                    guard let l = left.baseAddress, let r = right.baseAddress, let o = result.baseAddress else { return }
                    for row in 0..<rows {
                        let target = o + row * columns
                        if let bias { for column in 0..<columns { target[column] = bias[column] } }
                        for k in 0..<inner {
                            let factor = l[row * inner + k]
                            if factor == 0 { continue }
                            let source = r + k * columns
                            for column in 0..<columns { target[column] += factor * source[column] }
                        }
                    }
                }
            }
        }
        if let activation { activation.apply(to: &output) }
        return output
    }

    /// A dense layer fused from MatMul with a constant matrix, Add of a constant row-vector bias,
    /// and optionally an activation (see ``ExecutionPlan``): one kernel, one output buffer.
    static func dense(_ weights: Matrix, bias: [Double], activation: Activation?) -> Kernel {
        Kernel { inputs in
            let input = try required(inputs, 0, "MatMul")
            let (rows, inner) = input.matrixShape
            guard inner == weights.rows else {
                throw MLDeployError(code: .invalidValue, message: "MatMul cannot multiply \(input.shape) by a \(weights.rows)×\(weights.columns) matrix.")
            }
            let type: ElementType = input.elementType == .double || weights.elementType == .double ? .double : .float
            let output = multiply(try input.numbers("MatMul"), rows: rows, by: weights, bias: bias, activation: activation, single: type == .float)
            return [Tensor(shape: Array(input.shape.dropLast()) + [weights.columns], storage: .double(output), elementType: type)]
        }
    }

    static func transpose(_ tensor: Tensor) throws -> Tensor {
        guard tensor.shape.count == 2 else { throw MLDeployError(code: .unsupported, message: "Transposing a tensor of rank \(tensor.shape.count) is not supported.") }
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        let values = try tensor.numbers("transpose")
        var output = [Double](repeating: 0, count: values.count)
        for row in 0..<rows { for column in 0..<columns { output[column * rows + row] = values[row * columns + column] } }
        return Tensor(shape: [columns, rows], storage: .double(output), elementType: tensor.elementType)
    }

    /// Softmax along each row; with `zeroStaysZero` (ONNX-ML's SOFTMAX_ZERO) a zero score keeps
    /// probability zero.
    static func softmaxRows(_ tensor: Tensor, context: String, zeroStaysZero: Bool = false) throws -> Tensor {
        var output = try tensor.numbers(context)
        let (rows, columns) = tensor.matrixShape
        for row in 0..<rows {
            let range = (row * columns)..<(row * columns + columns)
            var top = -Double.infinity
            for index in range { top = max(top, output[index]) }
            var sum = 0.0
            for index in range {
                let e = zeroStaysZero && output[index] == 0 ? 0 : exp(output[index] - top)
                output[index] = e
                sum += e
            }
            for index in range { output[index] = sum == 0 ? 0 : output[index] / sum }
        }
        return Tensor(shape: tensor.shape, storage: .double(output), elementType: tensor.elementType == .double ? .double : .float)
    }

    static func cast(_ tensor: Tensor, to target: ElementType) throws -> Tensor {
        switch target {
        case .string:
            let text: [String]
            switch tensor.storage {
            case .string(let values): text = values
            case .int64(let values): text = values.map { String($0) }
            case .double(let values): text = values.map { String($0) }
            }
            return Tensor(shape: tensor.shape, storage: .string(text), elementType: .string)
        case .int64, .int32, .int8, .uint8, .bool:
            if case .string(let values) = tensor.storage {
                return Tensor(shape: tensor.shape, storage: .int64(try values.map { guard let number = Int64($0) else { throw MLDeployError(code: .invalidValue, message: "Cast: '\($0)' is not an integer.") }; return number }), elementType: target)
            }
            if case .int64(let values) = tensor.storage, target != .bool {
                return Tensor(shape: tensor.shape, storage: .int64(values), elementType: target)
            }
            let numbers = try tensor.numbers("Cast")
            return Tensor(shape: tensor.shape, storage: .int64(try numbers.map { target == .bool ? ($0 != 0 ? 1 : 0) : try Tensor.integer($0, "Cast to an integer type") }), elementType: target)
        case .float, .double:
            if case .string(let values) = tensor.storage {
                return Tensor(shape: tensor.shape, storage: .double(try values.map { guard let number = Double($0) else { throw MLDeployError(code: .invalidValue, message: "Cast: '\($0)' is not a number.") }; return number }), elementType: target)
            }
            let numbers = try tensor.numbers("Cast")
            return Tensor(shape: tensor.shape, storage: .double(target == .float ? numbers.map { Double(Float($0)) } : numbers), elementType: target)
        }
    }

    /// ONNX-ML's `post_transform`, read once at load.
    enum PostTransform: Sendable {
        case none, logistic, softmax, softmaxZero

        init(_ node: NodeProto) throws {
            switch node.attributes["post_transform"]?.string ?? "NONE" {
            case "NONE": self = .none
            case "LOGISTIC": self = .logistic
            case "SOFTMAX": self = .softmax
            case "SOFTMAX_ZERO": self = .softmaxZero
            case let other: throw MLDeployError(code: .unsupported, message: "\(node.opType)'s post_transform \(other) is not supported.")
            }
        }

        func apply(_ scores: Tensor, _ op: String) throws -> Tensor {
            switch self {
            case .none: return scores
            case .logistic: return Tensor(shape: scores.shape, storage: .double(try scores.numbers(op).map(Activation.sigmoid.callAsFunction)), elementType: .float)
            case .softmax: return try softmaxRows(scores, context: op)
            case .softmaxZero: return try softmaxRows(scores, context: op, zeroStaysZero: true)
            }
        }
    }

    static func classLabels(_ node: NodeProto) -> [String] {
        if let strings = node.attributes["classlabels_strings"]?.strings, !strings.isEmpty { return strings }
        // LinearClassifier names integer labels `classlabels_ints`; the tree ensembles `classlabels_int64s`.
        return (node.attributes["classlabels_ints"] ?? node.attributes["classlabels_int64s"])?.ints.map { String($0) } ?? []
    }

    static func labeled(_ tensor: Tensor, _ labels: [String]) -> Tensor {
        var tensor = tensor
        if labels.count == tensor.matrixShape.columns { tensor.columnLabels = labels }
        return tensor
    }

    /// Class labels as the tensor a classifier's label output carries: integers when every label
    /// is one, otherwise text. Built once at load; `pick` selects per row.
    struct LabelSet: Sendable {
        var text: [String]
        var integers: [Int64]?

        init(_ labels: [String]) {
            self.text = labels
            let integers = labels.compactMap { Int64($0) }
            self.integers = integers.count == labels.count ? integers : nil
        }

        /// The labels of the chosen classes (a class index itself when there are no labels).
        func pick(_ chosen: [Int]) -> Tensor {
            if self.text.isEmpty {
                return Tensor(shape: [chosen.count], storage: .int64(chosen.map(Int64.init)), elementType: .int64)
            }
            if let integers = self.integers {
                return Tensor(shape: [chosen.count], storage: .int64(chosen.map { integers[$0] }), elementType: .int64)
            }
            return Tensor(shape: [chosen.count], storage: .string(chosen.map { self.text[$0] }), elementType: .string)
        }
    }

    /// The label of each row's best class (a binary model with one score decides by its sign, or
    /// its probability against `binaryThreshold`).
    static func argmaxLabels(_ scores: Tensor, labels: LabelSet, rows: Int, binaryThreshold: Double?) throws -> Tensor {
        let values = try scores.numbers("classifier")
        let width = values.count / max(rows, 1)
        var chosen = [Int](repeating: 0, count: rows)
        for row in 0..<rows {
            let start = row * width
            if let threshold = binaryThreshold {
                chosen[row] = values[start + 1] > threshold ? 1 : 0
            } else {
                var best = 0
                for index in 1..<max(width, 1) where values[start + index] > values[start + best] { best = index }
                chosen[row] = best
            }
        }
        return labels.pick(chosen)
    }
}
