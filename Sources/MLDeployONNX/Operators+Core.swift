import Foundation
import MLDeploy

extension Operators {
    /// The default-domain (`ai.onnx`) operators.
    static let core: [String: Compiler] = [
        "Add": elementwise("Add", +),
        "Sub": elementwise("Sub", -),
        "Mul": elementwise("Mul", *),
        "Div": elementwise("Div", /),
        "Relu": stateless { inputs in [try map(inputs, "Relu", Activation.relu.callAsFunction)] },
        "Sigmoid": stateless { inputs in [try map(inputs, "Sigmoid", Activation.sigmoid.callAsFunction)] },
        "Tanh": stateless { inputs in [try map(inputs, "Tanh", Activation.tanh.callAsFunction)] },
        "Identity": stateless { inputs in [try required(inputs, 0, "Identity")] },
        "Gather": gather,
        "ArgMax": argMax,
        "MatMul": { context in
            let right = try context.constant(1).map(Matrix.init(right:))
            return Kernel { inputs in
                let left = try required(inputs, 0, "MatMul")
                return [try matMul(left, try right ?? Matrix(right: try required(inputs, 1, "MatMul")))]
            }
        },
        "Gemm": gemm,
        "Softmax": softmax,
        "Flatten": { context in
            let axis = Int(context.attributes["axis"]?.int ?? 1)
            return Kernel { inputs in
                var input = try required(inputs, 0, "Flatten")
                let normalized = axis < 0 ? axis + input.shape.count : axis
                input.shape = [input.shape.prefix(normalized).reduce(1, *), input.shape.dropFirst(normalized).reduce(1, *)]
                return [input]
            }
        },
        "Reshape": { context in
            // From version 14, `allowzero` 1 makes a 0 in the shape a zero-sized dimension instead
            // of a copy of the input's.
            let allowZero = context.version >= 14 && context.attributes["allowzero"]?.int == 1
            return Kernel { inputs in
            var input = try required(inputs, 0, "Reshape")
            let requested = try required(inputs, 1, "Reshape").integers("Reshape's shape").map(Int.init)
            var shape = requested.enumerated().map { index, size in size == 0 && !allowZero && index < input.shape.count ? input.shape[index] : size }
            if let unknown = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
                shape[unknown] = known == 0 ? 0 : input.count / known
            }
            guard shape.reduce(1, *) == input.count else {
                throw MLDeployError(code: .invalidValue, message: "Reshape cannot make \(input.shape) into \(requested).")
            }
            input.shape = shape
            return [input]
            }
        },
        "Cast": { context in
            guard let target = context.attributes["to"]?.int.flatMap(ElementType.init(rawValue:)) else {
                throw MLDeployError(code: .unsupported, message: "Cast to element type \(context.attributes["to"]?.int ?? -1) is not supported.")
            }
            return Kernel { inputs in [try cast(try required(inputs, 0, "Cast"), to: target)] }
        },
        "Concat": concat,
    ]

    static let gather: Compiler = { context in
        let axisAttribute = Int(context.attributes["axis"]?.int ?? 0)
        return Kernel { inputs in
            let data = try required(inputs, 0, "Gather")
            let indexTensor = try required(inputs, 1, "Gather")
            let rank = data.shape.count
            let axis = axisAttribute < 0 ? axisAttribute + rank : axisAttribute
            guard (0..<max(rank, 1)).contains(axis) else { throw MLDeployError(code: .invalidValue, message: "Gather axis \(axis) is outside the data's rank \(rank).") }
            let size = data.shape.isEmpty ? 1 : data.shape[axis]
            let indices = try indexTensor.integers("Gather's indices").map { Int($0 < 0 ? $0 + Int64(size) : $0) }
            guard indices.allSatisfy({ (0..<size).contains($0) }) else { throw MLDeployError(code: .invalidValue, message: "Gather indices \(indices) are outside 0..<\(size).") }
            let outer = data.shape.prefix(axis).reduce(1, *), inner = data.shape.dropFirst(axis + 1).reduce(1, *)
            let storage = data.storage.gathered(outer: outer, size: size, inner: inner, indices: indices)
            return [Tensor(shape: Array(data.shape.prefix(axis)) + indexTensor.shape + Array(data.shape.dropFirst(axis + 1)), storage: storage, elementType: data.elementType)]
        }
    }

    /// An elementwise arithmetic operator with numpy broadcasting (versions 7 on). Versions 1 and 6
    /// broadcast the second input from an `axis` attribute instead; without one they match
    /// trailing dimensions, which numpy broadcasting also does.
    static func elementwise(_ name: String, _ operation: @escaping @Sendable (Double, Double) -> Double) -> Compiler {
        let kernel = Kernel { inputs in [try broadcast(inputs, name, operation)] }
        return { context in
            if context.version < 7, context.attributes["axis"] != nil {
                throw MLDeployError(
                    code: .unsupported,
                    message: "\(name) version \(context.version) broadcasts from its axis attribute, which the engine does not run; export with opset 7 or newer (numpy broadcasting)."
                )
            }
            return kernel
        }
    }

    /// Softmax: before version 13 the input is folded into a matrix at `axis` (default 1) and each
    /// row normalised; from 13 it normalises along the single `axis` (default -1), which the
    /// engine runs when it is the last one.
    static let softmax: Compiler = { context in
        let folded = context.version < 13
        let axis = Int(context.attributes["axis"]?.int ?? (folded ? 1 : -1))
        return Kernel { inputs in
            let input = try required(inputs, 0, "Softmax")
            let rank = input.shape.count
            let normalized = axis < 0 ? axis + rank : axis
            guard (0..<max(rank, 1)).contains(normalized) else {
                throw MLDeployError(code: .invalidValue, message: "Softmax axis \(axis) is outside the input's rank \(rank).")
            }
            if folded {
                var matrix = input
                matrix.shape = [input.shape.prefix(normalized).reduce(1, *), input.shape.dropFirst(normalized).reduce(1, *)]
                var output = try softmaxRows(matrix, context: "Softmax")
                output.shape = input.shape
                return [output]
            }
            guard normalized == rank - 1 || rank == 0 else {
                throw MLDeployError(code: .unsupported, message: "Softmax is supported along the last axis only (got axis \(axis) for rank \(rank)).")
            }
            return [try softmaxRows(input, context: "Softmax")]
        }
    }

    static let argMax: Compiler = { context in
        let axis = Int(context.attributes["axis"]?.int ?? 0)
        let keep = (context.attributes["keepdims"]?.int ?? 1) == 1
        // From version 12, `select_last_index` picks the last of equal maxima instead of the first.
        let last = context.version >= 12 && context.attributes["select_last_index"]?.int == 1
        return Kernel { inputs in
            let input = try required(inputs, 0, "ArgMax")
            guard axis == input.shape.count - 1 || axis == -1 else {
                throw MLDeployError(code: .unsupported, message: "ArgMax is supported along the last axis only (got axis \(axis) for rank \(input.shape.count)).")
            }
            let values = try input.numbers("ArgMax")
            let (rows, columns) = input.matrixShape
            var best = [Int64](repeating: 0, count: rows)
            for row in 0..<rows {
                var index = 0
                for column in 1..<max(columns, 1) {
                    let value = values[row * columns + column], best = values[row * columns + index]
                    if value > best || (last && value == best) { index = column }
                }
                best[row] = Int64(index)
            }
            return [Tensor(shape: Array(input.shape.dropLast()) + (keep ? [1] : []), storage: .int64(best), elementType: .int64)]
        }
    }

    /// `alpha · A' · B' + beta · C`; a constant B is transposed once, at load, and a constant C
    /// scaled once.
    static let gemm: Compiler = { context in
        let attributes = context.attributes
        let transA = attributes["transA"]?.int == 1, transB = attributes["transB"]?.int == 1
        let alpha = Double(attributes["alpha"]?.float ?? 1), beta = Double(attributes["beta"]?.float ?? 1)
        @Sendable func rightMatrix(_ b: Tensor) throws -> Matrix { try Matrix(right: transB ? try transpose(b) : b) }
        @Sendable func scaled(_ c: Tensor) throws -> Tensor {
            beta == 1 ? c : Tensor(shape: c.shape, storage: .double(try c.numbers("Gemm").map { $0 * beta }), elementType: c.elementType)
        }
        let constantB = try context.constant(1).map(rightMatrix)
        let constantC = try context.constant(2).map(scaled)
        return Kernel { inputs in
            var a = try required(inputs, 0, "Gemm")
            if transA { a = try transpose(a) }
            var product = try matMul(a, try constantB ?? rightMatrix(try required(inputs, 1, "Gemm")))
            if alpha != 1 { product = Tensor(shape: product.shape, storage: .double(try product.numbers("Gemm").map { $0 * alpha }), elementType: product.elementType) }
            if let c = try constantC ?? (inputs.count > 2 ? inputs[2].map(scaled) : nil) {
                product = try broadcast([product, c], "Gemm", +)
            }
            return [product]
        }
    }

    static let concat: Compiler = { context in
        let axis = Int(context.attributes["axis"]?.int ?? 1)
        return Kernel { inputs in
            let parts = inputs.compactMap { $0 }
            guard let first = parts.first else { return [] }
            guard axis == first.shape.count - 1 || axis == -1 else {
                throw MLDeployError(code: .unsupported, message: "Concat is supported along the last axis only (got axis \(axis) for rank \(first.shape.count)).")
            }
            let rows = first.matrixShape.rows
            var values: [Double] = []
            var width = 0
            for part in parts { width += part.matrixShape.columns }
            values.reserveCapacity(rows * width)
            let numbers = try parts.map { try $0.numbers("Concat") }
            for row in 0..<rows {
                for (part, data) in zip(parts, numbers) {
                    let columns = part.matrixShape.columns
                    values.append(contentsOf: data[(row * columns)..<(row * columns + columns)])
                }
            }
            return [Tensor(shape: Array(first.shape.dropLast()) + [width], storage: .double(values), elementType: first.elementType)]
        }
    }
}
