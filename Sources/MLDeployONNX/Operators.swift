import Foundation
import MLDeploy

/// The operators the engine runs, by domain and name. A kernel takes the node, its inputs (absent
/// optional inputs are `nil`) and the opset version of its domain, and returns its outputs.
enum Operators {
    typealias Kernel = @Sendable (NodeProto, [Tensor?], Int64) throws -> [Tensor]

    static let core: [String: Kernel] = [
        "Add": { _, inputs, _ in [try broadcast(inputs, "Add", +)] },
        "Sub": { _, inputs, _ in [try broadcast(inputs, "Sub", -)] },
        "Mul": { _, inputs, _ in [try broadcast(inputs, "Mul", *)] },
        "Div": { _, inputs, _ in [try broadcast(inputs, "Div", /)] },
        "Relu": { _, inputs, _ in [try map(inputs, "Relu") { max(0, $0) }] },
        "Sigmoid": { _, inputs, _ in [try map(inputs, "Sigmoid") { 1 / (1 + exp(-$0)) }] },
        "Tanh": { _, inputs, _ in [try map(inputs, "Tanh") { tanh($0) }] },
        "Identity": { _, inputs, _ in [try required(inputs, 0, "Identity")] },
        "Gather": { node, inputs, _ in
            let data = try required(inputs, 0, "Gather")
            let indexTensor = try required(inputs, 1, "Gather")
            let rank = data.shape.count
            var axis = Int(node.attributes["axis"]?.int ?? 0)
            if axis < 0 { axis += rank }
            guard (0..<max(rank, 1)).contains(axis) else { throw MLDeployError(code: .invalidValue, message: "Gather axis \(axis) is outside the data's rank \(rank).") }
            let size = data.shape.isEmpty ? 1 : data.shape[axis]
            let indices = try indexTensor.integers("Gather's indices").map { Int($0 < 0 ? $0 + Int64(size) : $0) }
            guard indices.allSatisfy({ (0..<size).contains($0) }) else { throw MLDeployError(code: .invalidValue, message: "Gather indices \(indices) are outside 0..<\(size).") }
            let outer = data.shape.prefix(axis).reduce(1, *), inner = data.shape.dropFirst(axis + 1).reduce(1, *)
            func gather<T>(_ values: [T]) -> [T] {
                var output: [T] = []
                output.reserveCapacity(outer * indices.count * inner)
                for o in 0..<outer { for index in indices { output.append(contentsOf: values[((o * size + index) * inner)..<((o * size + index) * inner + inner)]) } }
                return output
            }
            let storage: Tensor.Storage
            switch data.storage {
            case .double(let values): storage = .double(gather(values))
            case .int64(let values): storage = .int64(gather(values))
            case .string(let values): storage = .string(gather(values))
            }
            return [Tensor(shape: Array(data.shape.prefix(axis)) + indexTensor.shape + Array(data.shape.dropFirst(axis + 1)), storage: storage, elementType: data.elementType)]
        },
        "ArgMax": { node, inputs, _ in
            let input = try required(inputs, 0, "ArgMax")
            let axis = Int(node.attributes["axis"]?.int ?? 0)
            guard axis == input.shape.count - 1 || axis == -1 else {
                throw MLDeployError(code: .unsupported, message: "ArgMax is supported along the last axis only (got axis \(axis) for rank \(input.shape.count)).")
            }
            let values = try input.numbers("ArgMax")
            let (rows, columns) = input.matrixShape
            let best: [Int64] = (0..<rows).map { row in
                var index = 0
                for column in 1..<max(columns, 1) where values[row * columns + column] > values[row * columns + index] { index = column }
                return Int64(index)
            }
            let keep = (node.attributes["keepdims"]?.int ?? 1) == 1
            return [Tensor(shape: Array(input.shape.dropLast()) + (keep ? [1] : []), storage: .int64(best), elementType: .int64)]
        },
        "MatMul": { _, inputs, _ in [try matMul(try required(inputs, 0, "MatMul"), try required(inputs, 1, "MatMul"))] },
        "Gemm": gemm,
        "Softmax": { node, inputs, opset in
            let input = try required(inputs, 0, "Softmax")
            // Opsets before 13 flatten from `axis` (default 1); a 2-D batch is the same either way.
            return [try softmaxRows(input, context: "Softmax")]
        },
        "Flatten": { node, inputs, _ in
            var input = try required(inputs, 0, "Flatten")
            let axis = Int(node.attributes["axis"]?.int ?? 1)
            let normalized = axis < 0 ? axis + input.shape.count : axis
            input.shape = [input.shape.prefix(normalized).reduce(1, *), input.shape.dropFirst(normalized).reduce(1, *)]
            return [input]
        },
        "Reshape": { node, inputs, _ in
            var input = try required(inputs, 0, "Reshape")
            let requested = try required(inputs, 1, "Reshape").integers("Reshape's shape").map(Int.init)
            var shape = requested.enumerated().map { index, size in size == 0 && index < input.shape.count ? input.shape[index] : size }
            if let unknown = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
                shape[unknown] = known == 0 ? 0 : input.count / known
            }
            guard shape.reduce(1, *) == input.count else {
                throw MLDeployError(code: .invalidValue, message: "Reshape cannot make \(input.shape) into \(requested).")
            }
            input.shape = shape
            return [input]
        },
        "Cast": { node, inputs, _ in
            let input = try required(inputs, 0, "Cast")
            guard let target = node.attributes["to"]?.int.flatMap(ElementType.init(rawValue:)) else {
                throw MLDeployError(code: .unsupported, message: "Cast to element type \(node.attributes["to"]?.int ?? -1) is not supported.")
            }
            return [try cast(input, to: target)]
        },
        "Concat": { node, inputs, _ in
            let parts = inputs.compactMap { $0 }
            guard let first = parts.first else { return [] }
            let axis = Int(node.attributes["axis"]?.int ?? 1)
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
        },
    ]

    static let ml: [String: Kernel] = [
        "TreeEnsembleRegressor": treeEnsembleRegressor,
        "TreeEnsembleClassifier": treeEnsembleClassifier,
        "Imputer": { node, inputs, _ in
            let input = try required(inputs, 0, "Imputer")
            let (_, columns) = input.matrixShape
            if case .int64(let values) = input.storage {
                let imputed = node.attributes["imputed_value_int64s"]?.ints ?? []
                let replaced = node.attributes["replaced_value_int64"]?.int ?? 0
                let output = values.enumerated().map { index, value in value == replaced && !imputed.isEmpty ? imputed[imputed.count == 1 ? 0 : index % columns] : value }
                return [Tensor(shape: input.shape, storage: .int64(output), elementType: input.elementType)]
            }
            let values = try input.numbers("Imputer")
            let imputed: [Double] = (node.attributes["imputed_value_floats"]?.floats ?? []).map { Double($0) }
            let replaced = Double(node.attributes["replaced_value_float"]?.float ?? 0)
            guard !imputed.isEmpty else { throw MLDeployError(code: .invalidValue, message: "Imputer '\(node.name)' has no imputed values.") }
            let output = values.enumerated().map { index, value -> Double in
                let missing = replaced.isNaN ? value.isNaN : value == replaced
                return missing ? imputed[imputed.count == 1 ? 0 : index % columns] : value
            }
            return [Tensor(shape: input.shape, storage: .double(output), elementType: input.elementType)]
        },
        "OneHotEncoder": { node, inputs, _ in
            let input = try required(inputs, 0, "OneHotEncoder")
            let categories: [String] = node.attributes["cats_strings"]?.strings ?? (node.attributes["cats_int64s"]?.ints ?? []).map { String($0) }
            let position = Dictionary(categories.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
            let keys: [String]
            switch input.storage {
            case .string(let values): keys = values
            case .int64(let values): keys = values.map { String($0) }
            case .double(let values): keys = values.map { String(Int64($0)) }
            }
            let strict = (node.attributes["zeros"]?.int ?? 1) == 0
            var output = [Double](repeating: 0, count: keys.count * categories.count)
            for (index, key) in keys.enumerated() {
                if let column = position[key] {
                    output[index * categories.count + column] = 1
                } else if strict {
                    throw MLDeployError(code: .invalidValue, message: "OneHotEncoder '\(node.name)': '\(key)' is not one of its categories.")
                }
            }
            return [Tensor(shape: input.shape + [categories.count], storage: .double(output), elementType: .float)]
        },
        "LabelEncoder": { node, inputs, _ in
            let input = try required(inputs, 0, "LabelEncoder")
            let attributes = node.attributes
            let keys: [String] = attributes["keys_strings"]?.strings ?? (attributes["keys_int64s"]?.ints ?? []).map { String($0) }
            let keyFloats = attributes["keys_floats"]?.floats ?? []
            let allKeys = keys.isEmpty ? keyFloats.map { String(Double($0)) } : keys
            let text: [String]
            switch input.storage {
            case .string(let values): text = values
            case .int64(let values): text = values.map { String($0) }
            case .double(let values): text = values.map { keyFloats.isEmpty ? String(Int64($0)) : String(Double(Float($0))) }
            }
            func lookup<T>(_ values: [T], default fallback: T) -> [T] {
                let map = Dictionary(zip(allKeys, values).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
                return text.map { map[$0] ?? fallback }
            }
            if let values = attributes["values_strings"]?.strings, !values.isEmpty {
                return [Tensor(shape: input.shape, storage: .string(lookup(values, default: attributes["default_string"]?.string ?? "_Unused")), elementType: .string)]
            }
            if let values = attributes["values_int64s"]?.ints, !values.isEmpty {
                return [Tensor(shape: input.shape, storage: .int64(lookup(values, default: attributes["default_int64"]?.int ?? -1)), elementType: .int64)]
            }
            let floats: [Double] = (attributes["values_floats"]?.floats ?? []).map { Double($0) }
            return [Tensor(shape: input.shape, storage: .double(lookup(floats, default: Double(attributes["default_float"]?.float ?? -0.0))), elementType: .float)]
        },
        "Scaler": { node, inputs, _ in
            let input = try required(inputs, 0, "Scaler")
            let values = try input.numbers("Scaler")
            let offsets = node.attributes["offset"]?.floats.map(Double.init) ?? [], scales = node.attributes["scale"]?.floats.map(Double.init) ?? []
            let columns = input.matrixShape.columns
            func pick(_ list: [Double], _ column: Int, _ fallback: Double) -> Double { list.isEmpty ? fallback : (list.count == 1 ? list[0] : list[column]) }
            let scaled = values.enumerated().map { index, value in (value - pick(offsets, index % columns, 0)) * pick(scales, index % columns, 1) }
            return [Tensor(shape: input.shape, storage: .double(scaled), elementType: .float)]
        },
        "Normalizer": { node, inputs, _ in
            let input = try required(inputs, 0, "Normalizer")
            let values = try input.numbers("Normalizer")
            let (rows, columns) = input.matrixShape
            var output = values
            for row in 0..<rows {
                let slice = values[(row * columns)..<(row * columns + columns)]
                let norm: Double
                switch node.attributes["norm"]?.string ?? "MAX" {
                case "L1": norm = slice.reduce(0) { $0 + abs($1) }
                case "L2": norm = sqrt(slice.reduce(0) { $0 + $1 * $1 })
                default: norm = slice.map(abs).max() ?? 0
                }
                if norm > 0 { for column in 0..<columns { output[row * columns + column] = values[row * columns + column] / norm } }
            }
            return [Tensor(shape: input.shape, storage: .double(output), elementType: .float)]
        },
        "LinearRegressor": { node, inputs, _ in
            let input = try required(inputs, 0, "LinearRegressor")
            let targets = Int(node.attributes["targets"]?.int ?? 1)
            let scores = try linear(input, node, outputs: targets)
            return [try postTransform(scores, node, rows: input.matrixShape.rows, width: targets)]
        },
        "LinearClassifier": { node, inputs, _ in
            let input = try required(inputs, 0, "LinearClassifier")
            let rows = input.matrixShape.rows
            let labels = classLabels(node)
            let classes = max(labels.count, 1)
            let outputs = (node.attributes["intercepts"]?.floats.count ?? classes)
            var scores = try linear(input, node, outputs: outputs)
            // A binary model with one score column gets the two-column form [-s, s].
            if outputs == 1, labels.count == 2 {
                let single = try scores.numbers("LinearClassifier")
                scores = Tensor(shape: [rows, 2], storage: .double(single.flatMap { [-$0, $0] }), elementType: .float)
            }
            let transformed = try postTransform(scores, node, rows: rows, width: scores.count / max(rows, 1))
            return [try argmaxLabels(transformed, labels: labels, rows: rows, binaryThreshold: outputs == 1 && labels.count == 2 ? (node.attributes["post_transform"]?.string == "LOGISTIC" ? 0.5 : 0) : nil, raw: scores), labeled(transformed, labels)]
        },
        "ZipMap": { node, inputs, _ in
            var input = try required(inputs, 0, "ZipMap")
            let labels = node.attributes["classlabels_strings"]?.strings ?? node.attributes["classlabels_int64s"]?.ints.map { String($0) } ?? []
            if !labels.isEmpty { input.columnLabels = labels }
            return [input]
        },
        "ArrayFeatureExtractor": { _, inputs, _ in
            let input = try required(inputs, 0, "ArrayFeatureExtractor")
            let indices = try required(inputs, 1, "ArrayFeatureExtractor").integers("ArrayFeatureExtractor's indices").map(Int.init)
            let (rows, columns) = input.matrixShape
            guard indices.allSatisfy({ (0..<columns).contains($0) }) else {
                throw MLDeployError(code: .invalidValue, message: "ArrayFeatureExtractor indices \(indices) are outside 0..<\(columns).")
            }
            func gather<T>(_ values: [T]) -> [T] { (0..<rows).flatMap { row in indices.map { values[row * columns + $0] } } }
            let storage: Tensor.Storage
            switch input.storage {
            case .double(let values): storage = .double(gather(values))
            case .int64(let values): storage = .int64(gather(values))
            case .string(let values): storage = .string(gather(values))
            }
            return [Tensor(shape: Array(input.shape.dropLast()) + [indices.count], storage: storage, elementType: input.elementType)]
        },
    ]

    /// Every operator name, for messages.
    static var supported: Set<String> {
        Set(Self.core.keys).union(Self.ml.keys.map { "ai.onnx.ml.\($0)" })
    }

    static func kernel(for node: NodeProto) -> Kernel? {
        switch node.domain {
        case "": return Self.core[node.opType]
        case "ai.onnx.ml": return Self.ml[node.opType]
        default: return nil
        }
    }

    // MARK: Helpers

    static func required(_ inputs: [Tensor?], _ index: Int, _ op: String) throws -> Tensor {
        guard index < inputs.count, let tensor = inputs[index] else {
            throw MLDeployError(code: .invalidArgument, message: "\(op) is missing its input \(index).")
        }
        return tensor
    }

    static func map(_ inputs: [Tensor?], _ op: String, _ transform: (Double) -> Double) throws -> Tensor {
        let input = try required(inputs, 0, op)
        return Tensor(shape: input.shape, storage: .double(try input.numbers(op).map(transform)), elementType: input.elementType == .double ? .double : .float)
    }

    /// Element-wise with numpy broadcasting.
    static func broadcast(_ inputs: [Tensor?], _ op: String, _ combine: (Double, Double) -> Double) throws -> Tensor {
        let a = try required(inputs, 0, op), b = try required(inputs, 1, op)
        let x = try a.numbers(op), y = try b.numbers(op)
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
        return Tensor(shape: shape, storage: .double(output), elementType: a.elementType == .double || b.elementType == .double ? .double : .float)
    }

    static func matMul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let x = try a.numbers("MatMul"), y = try b.numbers("MatMul")
        let (rows, inner) = a.matrixShape
        guard b.shape.count <= 2 else { throw MLDeployError(code: .unsupported, message: "MatMul with a right operand of rank \(b.shape.count) is not supported.") }
        let (innerB, columns) = b.shape.count == 1 ? (b.shape[0], 1) : (b.shape[0], b.shape[1])
        guard inner == innerB else { throw MLDeployError(code: .invalidValue, message: "MatMul cannot multiply \(a.shape) by \(b.shape).") }
        var output = [Double](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for k in 0..<inner {
                let left = x[row * inner + k]
                if left == 0 { continue }
                for column in 0..<columns { output[row * columns + column] += left * y[k * columns + column] }
            }
        }
        let shape = Array(a.shape.dropLast()) + (b.shape.count == 1 ? [] : [columns])
        return Tensor(shape: shape, storage: .double(output), elementType: a.elementType == .double ? .double : .float)
    }

    static let gemm: Kernel = { node, inputs, _ in
        var a = try required(inputs, 0, "Gemm"), b = try required(inputs, 1, "Gemm")
        if node.attributes["transA"]?.int == 1 { a = try transpose(a) }
        if node.attributes["transB"]?.int == 1 { b = try transpose(b) }
        var product = try matMul(a, b)
        let alpha = Double(node.attributes["alpha"]?.float ?? 1), beta = Double(node.attributes["beta"]?.float ?? 1)
        if alpha != 1 { product = Tensor(shape: product.shape, storage: .double(try product.numbers("Gemm").map { $0 * alpha }), elementType: product.elementType) }
        if let c = inputs.count > 2 ? inputs[2] : nil {
            let scaled = Tensor(shape: c.shape, storage: .double(try c.numbers("Gemm").map { $0 * beta }), elementType: c.elementType)
            product = try broadcast([product, scaled], "Gemm", +)
        }
        return [product]
    }

    static func transpose(_ tensor: Tensor) throws -> Tensor {
        guard tensor.shape.count == 2 else { throw MLDeployError(code: .unsupported, message: "Transposing a tensor of rank \(tensor.shape.count) is not supported.") }
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        let values = try tensor.numbers("transpose")
        var output = [Double](repeating: 0, count: values.count)
        for row in 0..<rows { for column in 0..<columns { output[column * rows + row] = values[row * columns + column] } }
        return Tensor(shape: [columns, rows], storage: .double(output), elementType: tensor.elementType)
    }

    static func softmaxRows(_ tensor: Tensor, context: String) throws -> Tensor {
        let values = try tensor.numbers(context)
        let (rows, columns) = tensor.matrixShape
        var output = values
        for row in 0..<rows {
            let slice = values[(row * columns)..<(row * columns + columns)]
            let top = slice.max() ?? 0
            let exps = slice.map { exp($0 - top) }
            let sum = exps.reduce(0, +)
            for column in 0..<columns { output[row * columns + column] = exps[column] / sum }
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
            let numbers = try tensor.numbers("Cast")
            return Tensor(shape: tensor.shape, storage: .int64(numbers.map { target == .bool ? ($0 != 0 ? 1 : 0) : Int64($0.rounded(.towardZero)) }), elementType: target)
        case .float, .double:
            if case .string(let values) = tensor.storage {
                return Tensor(shape: tensor.shape, storage: .double(try values.map { guard let number = Double($0) else { throw MLDeployError(code: .invalidValue, message: "Cast: '\($0)' is not a number.") }; return number }), elementType: target)
            }
            let numbers = try tensor.numbers("Cast")
            return Tensor(shape: tensor.shape, storage: .double(target == .float ? numbers.map { Double(Float($0)) } : numbers), elementType: target)
        }
    }

    /// `X · coefficientsᵀ + intercepts` for LinearRegressor/LinearClassifier (coefficients are
    /// `outputs × features`, row-major).
    static func linear(_ input: Tensor, _ node: NodeProto, outputs: Int) throws -> Tensor {
        let x = try input.numbers(node.opType)
        let (rows, features) = input.matrixShape
        let coefficients: [Double] = (node.attributes["coefficients"]?.floats ?? []).map { Double($0) }
        let intercepts: [Double] = (node.attributes["intercepts"]?.floats ?? []).map { Double($0) }
        guard coefficients.count == outputs * features else {
            throw MLDeployError(code: .invalidValue, message: "\(node.opType) has \(coefficients.count) coefficients for \(outputs) outputs of \(features) features.")
        }
        var output = [Double](repeating: 0, count: rows * outputs)
        for row in 0..<rows {
            for target in 0..<outputs {
                var sum: Double = intercepts.isEmpty ? 0 : intercepts[target % intercepts.count]
                for feature in 0..<features {
                    let product: Double = x[row * features + feature] * coefficients[target * features + feature]
                    sum += product
                }
                output[row * outputs + target] = sum
            }
        }
        return Tensor(shape: [rows, outputs], storage: .double(output), elementType: .float)
    }

    static func postTransform(_ scores: Tensor, _ node: NodeProto, rows: Int, width: Int) throws -> Tensor {
        let values = try scores.numbers(node.opType)
        switch node.attributes["post_transform"]?.string ?? "NONE" {
        case "NONE": return scores
        case "LOGISTIC": return Tensor(shape: scores.shape, storage: .double(values.map { 1 / (1 + exp(-$0)) }), elementType: .float)
        case "SOFTMAX": return try softmaxRows(scores, context: node.opType)
        case "SOFTMAX_ZERO":
            var output = values
            for row in 0..<rows {
                let slice = values[(row * width)..<(row * width + width)]
                let top = slice.max() ?? 0
                let exps = slice.map { $0 == 0 ? 0 : exp($0 - top) }
                let sum = exps.reduce(0, +)
                for column in 0..<width { output[row * width + column] = sum == 0 ? 0 : exps[column] / sum }
            }
            return Tensor(shape: scores.shape, storage: .double(output), elementType: .float)
        case let other: throw MLDeployError(code: .unsupported, message: "\(node.opType)'s post_transform \(other) is not supported.")
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

    /// The label of each row's best class (a binary model with one score decides by its sign, or
    /// its probability against 0.5).
    static func argmaxLabels(_ scores: Tensor, labels: [String], rows: Int, binaryThreshold: Double?, raw: Tensor) throws -> Tensor {
        let values = try scores.numbers("classifier")
        let width = values.count / max(rows, 1)
        var chosen: [Int] = []
        for row in 0..<rows {
            let slice = values[(row * width)..<(row * width + width)]
            if let threshold = binaryThreshold {
                chosen.append(slice[slice.startIndex + 1] > threshold ? 1 : 0)
            } else {
                var best = 0
                for (index, value) in slice.enumerated() where value > slice[slice.startIndex + best] { best = index }
                chosen.append(best)
            }
        }
        if labels.allSatisfy({ Int64($0) != nil }) {
            return Tensor(shape: [rows], storage: .int64(chosen.map { labels.isEmpty ? Int64($0) : Int64(labels[$0])! }), elementType: .int64)
        }
        return Tensor(shape: [rows], storage: .string(chosen.map { labels[$0] }), elementType: .string)
    }
}
