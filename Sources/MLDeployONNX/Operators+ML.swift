import Foundation
import MLDeploy

extension Operators {
    /// The ONNX-ML (`ai.onnx.ml`) operators.
    static let ml: [String: Compiler] = [
        "TreeEnsembleRegressor": treeEnsembleRegressor,
        "TreeEnsembleClassifier": treeEnsembleClassifier,
        "Imputer": imputer,
        "OneHotEncoder": oneHotEncoder,
        "LabelEncoder": labelEncoder,
        "Scaler": scaler,
        "Normalizer": normalizer,
        "LinearRegressor": linearRegressor,
        "LinearClassifier": linearClassifier,
        "ZipMap": { context in
            let attributes = context.attributes
            let labels = attributes["classlabels_strings"]?.strings ?? attributes["classlabels_int64s"]?.ints.map { String($0) } ?? []
            return Kernel { inputs in
                var input = try required(inputs, 0, "ZipMap")
                if !labels.isEmpty { input.columnLabels = labels }
                return [input]
            }
        },
        "ArrayFeatureExtractor": arrayFeatureExtractor,
    ]

    static let imputer: Compiler = { context in
        let attributes = context.attributes
        let imputedIntegers = attributes["imputed_value_int64s"]?.ints ?? []
        let replacedInteger = attributes["replaced_value_int64"]?.int ?? 0
        let imputed: [Double] = (attributes["imputed_value_floats"]?.floats ?? []).map { Double($0) }
        let replaced = Double(attributes["replaced_value_float"]?.float ?? 0)
        let name = context.node.name
        return Kernel { inputs in
            let input = try required(inputs, 0, "Imputer")
            let (_, columns) = input.matrixShape
            if case .int64(let values) = input.storage {
                let output = values.enumerated().map { index, value in
                    value == replacedInteger && !imputedIntegers.isEmpty ? imputedIntegers[imputedIntegers.count == 1 ? 0 : index % columns] : value
                }
                return [Tensor(shape: input.shape, storage: .int64(output), elementType: input.elementType)]
            }
            let values = try input.numbers("Imputer")
            guard !imputed.isEmpty else { throw MLDeployError(code: .invalidValue, message: "Imputer '\(name)' has no imputed values.") }
            let output = values.enumerated().map { index, value -> Double in
                let missing = replaced.isNaN ? value.isNaN : value == replaced
                return missing ? imputed[imputed.count == 1 ? 0 : index % columns] : value
            }
            return [Tensor(shape: input.shape, storage: .double(output), elementType: input.elementType)]
        }
    }

    static let oneHotEncoder: Compiler = { context in
        let attributes = context.attributes
        let categories: [String] = attributes["cats_strings"]?.strings ?? (attributes["cats_int64s"]?.ints ?? []).map { String($0) }
        let position = Dictionary(categories.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let strict = (attributes["zeros"]?.int ?? 1) == 0
        let name = context.node.name
        return Kernel { inputs in
            let input = try required(inputs, 0, "OneHotEncoder")
            let keys: [String]
            switch input.storage {
            case .string(let values): keys = values
            case .int64(let values): keys = values.map { String($0) }
            case .double(let values): keys = values.map { $0.isFinite && abs($0) < 9e18 ? String(Int64($0)) : String($0) }
            }
            var output = [Double](repeating: 0, count: keys.count * categories.count)
            for (index, key) in keys.enumerated() {
                if let column = position[key] {
                    output[index * categories.count + column] = 1
                } else if strict {
                    throw MLDeployError(code: .invalidValue, message: "OneHotEncoder '\(name)': '\(key)' is not one of its categories.")
                }
            }
            return [Tensor(shape: input.shape + [categories.count], storage: .double(output), elementType: .float)]
        }
    }

    static let labelEncoder: Compiler = { context in
        let attributes = context.attributes
        // Version 4 may give keys, values and the default as typed tensors instead of lists.
        if let tensorAttribute = ["keys_tensor", "values_tensor", "default_tensor"].first(where: { attributes[$0] != nil }) {
            throw MLDeployError(
                code: .unsupported,
                message: "LabelEncoder's \(tensorAttribute) (version 4) is not supported; the engine reads the keys_* and values_* lists (versions 2 to 4)."
            )
        }
        guard attributes["keys_strings"] != nil || attributes["keys_int64s"] != nil || attributes["keys_floats"] != nil else {
            throw MLDeployError(code: .unsupported, message: "LabelEncoder has no keys_strings, keys_int64s or keys_floats: nothing to map.")
        }
        let keys: [String] = attributes["keys_strings"]?.strings ?? (attributes["keys_int64s"]?.ints ?? []).map { String($0) }
        let keyFloats = attributes["keys_floats"]?.floats ?? []
        let allKeys = keys.isEmpty ? keyFloats.map { String(Double($0)) } : keys
        /// The lookup from key text to value, built once.
        func table<T>(_ values: [T]) -> [String: T] {
            Dictionary(zip(allKeys, values).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
        }
        let floatKeys = !keyFloats.isEmpty
        @Sendable func text(_ input: Tensor) -> [String] {
            switch input.storage {
            case .string(let values): return values
            case .int64(let values): return values.map { String($0) }
            case .double(let values): return values.map { floatKeys ? String(Double(Float($0))) : $0.isFinite && abs($0) < 9e18 ? String(Int64($0)) : String($0) }
            }
        }
        if let values = attributes["values_strings"]?.strings, !values.isEmpty {
            let map = table(values), fallback = attributes["default_string"]?.string ?? "_Unused"
            return Kernel { inputs in
                let input = try required(inputs, 0, "LabelEncoder")
                return [Tensor(shape: input.shape, storage: .string(text(input).map { map[$0] ?? fallback }), elementType: .string)]
            }
        }
        if let values = attributes["values_int64s"]?.ints, !values.isEmpty {
            let map = table(values), fallback = attributes["default_int64"]?.int ?? -1
            return Kernel { inputs in
                let input = try required(inputs, 0, "LabelEncoder")
                return [Tensor(shape: input.shape, storage: .int64(text(input).map { map[$0] ?? fallback }), elementType: .int64)]
            }
        }
        let map = table((attributes["values_floats"]?.floats ?? []).map { Double($0) })
        let fallback = Double(attributes["default_float"]?.float ?? -0.0)
        return Kernel { inputs in
            let input = try required(inputs, 0, "LabelEncoder")
            return [Tensor(shape: input.shape, storage: .double(text(input).map { map[$0] ?? fallback }), elementType: .float)]
        }
    }

    static let scaler: Compiler = { context in
        let offsets = context.attributes["offset"]?.floats.map(Double.init) ?? []
        let scales = context.attributes["scale"]?.floats.map(Double.init) ?? []
        return Kernel { inputs in
            let input = try required(inputs, 0, "Scaler")
            var values = try input.numbers("Scaler")
            let columns = input.matrixShape.columns
            if (offsets.count > 1 && offsets.count != columns) || (scales.count > 1 && scales.count != columns) {
                throw MLDeployError(code: .inputMismatch, message: "Scaler has \(offsets.count) offsets and \(scales.count) scales for \(columns) columns.")
            }
            for index in values.indices {
                let column = index % columns
                let offset = offsets.isEmpty ? 0 : offsets[offsets.count == 1 ? 0 : column]
                let scale = scales.isEmpty ? 1 : scales[scales.count == 1 ? 0 : column]
                values[index] = (values[index] - offset) * scale
            }
            return [Tensor(shape: input.shape, storage: .double(values), elementType: .float)]
        }
    }

    static let normalizer: Compiler = { context in
        let norm = context.attributes["norm"]?.string ?? "MAX"
        guard ["MAX", "L1", "L2"].contains(norm) else {
            throw MLDeployError(code: .unsupported, message: "Normalizer norm \(norm) is not supported (MAX, L1, L2).")
        }
        return Kernel { inputs in
            let input = try required(inputs, 0, "Normalizer")
            let values = try input.numbers("Normalizer")
            let (rows, columns) = input.matrixShape
            var output = values
            for row in 0..<rows {
                let slice = values[(row * columns)..<(row * columns + columns)]
                let size: Double
                switch norm {
                case "L1": size = slice.reduce(0) { $0 + abs($1) }
                case "L2": size = sqrt(slice.reduce(0) { $0 + $1 * $1 })
                default: size = slice.map(abs).max() ?? 0
                }
                if size > 0 { for column in 0..<columns { output[row * columns + column] = values[row * columns + column] / size } }
            }
            return [Tensor(shape: input.shape, storage: .double(output), elementType: .float)]
        }
    }

    /// A linear model's weights, read once: `X · coefficientsᵀ + intercepts` (coefficients are
    /// `outputs × features`, row-major).
    struct LinearWeights: Sendable {
        var coefficients: [Double]
        var intercepts: [Double]
        var outputs: Int
        var op: String

        init(_ node: NodeProto, outputs: Int) {
            self.coefficients = (node.attributes["coefficients"]?.floats ?? []).map { Double($0) }
            self.intercepts = (node.attributes["intercepts"]?.floats ?? []).map { Double($0) }
            self.outputs = outputs
            self.op = node.opType
        }

        func apply(_ input: Tensor) throws -> Tensor {
            let x = try input.numbers(self.op)
            let (rows, features) = input.matrixShape
            guard self.coefficients.count == self.outputs * features else {
                throw MLDeployError(code: .inputMismatch, message: "\(self.op) has \(self.coefficients.count) coefficients for \(self.outputs) outputs of \(features) features.")
            }
            var output = [Double](repeating: 0, count: rows * self.outputs)
            for row in 0..<rows {
                for target in 0..<self.outputs {
                    var sum: Double = self.intercepts.isEmpty ? 0 : self.intercepts[target % self.intercepts.count]
                    for feature in 0..<features {
                        let product: Double = x[row * features + feature] * self.coefficients[target * features + feature]
                        sum += product
                    }
                    output[row * self.outputs + target] = sum
                }
            }
            return Tensor(shape: [rows, self.outputs], storage: .double(output), elementType: .float)
        }
    }

    static let linearRegressor: Compiler = { context in
        let weights = LinearWeights(context.node, outputs: Int(context.attributes["targets"]?.int ?? 1))
        let transform = try PostTransform(context.node)
        return Kernel { inputs in [try transform.apply(try weights.apply(try required(inputs, 0, "LinearRegressor")), "LinearRegressor")] }
    }

    static let linearClassifier: Compiler = { context in
        let node = context.node
        let names = classLabels(node)
        let labels = LabelSet(names)
        let outputs = node.attributes["intercepts"]?.floats.count ?? max(names.count, 1)
        let weights = LinearWeights(node, outputs: outputs)
        let transform = try PostTransform(node)
        // A binary model with one score column gets the two-column form [-s, s], and its label
        // is decided by the score's sign (or its probability against 0.5).
        let binary = outputs == 1 && names.count == 2
        let threshold: Double? = binary ? (transform == .logistic ? 0.5 : 0) : nil
        return Kernel { inputs in
            let input = try required(inputs, 0, "LinearClassifier")
            let rows = input.matrixShape.rows
            var scores = try weights.apply(input)
            if binary {
                let single = try scores.numbers("LinearClassifier")
                var pairs = [Double](repeating: 0, count: rows * 2)
                for row in 0..<rows { pairs[row * 2] = -single[row]; pairs[row * 2 + 1] = single[row] }
                scores = Tensor(shape: [rows, 2], storage: .double(pairs), elementType: .float)
            }
            let transformed = try transform.apply(scores, "LinearClassifier")
            return [try argmaxLabels(transformed, labels: labels, rows: rows, binaryThreshold: threshold), labeled(transformed, names)]
        }
    }

    static let arrayFeatureExtractor: Compiler = { context in
        let constantIndices = try context.constant(1).map { try $0.integers("ArrayFeatureExtractor's indices").map(Int.init) }
        return Kernel { inputs in
            let input = try required(inputs, 0, "ArrayFeatureExtractor")
            let indices = try constantIndices ?? required(inputs, 1, "ArrayFeatureExtractor").integers("ArrayFeatureExtractor's indices").map(Int.init)
            let (rows, columns) = input.matrixShape
            guard indices.allSatisfy({ (0..<columns).contains($0) }) else {
                throw MLDeployError(code: .invalidValue, message: "ArrayFeatureExtractor indices \(indices) are outside 0..<\(columns).")
            }
            let storage = input.storage.gathered(outer: rows, size: columns, inner: 1, indices: indices)
            return [Tensor(shape: Array(input.shape.dropLast()) + [indices.count], storage: storage, elementType: input.elementType)]
        }
    }
}
