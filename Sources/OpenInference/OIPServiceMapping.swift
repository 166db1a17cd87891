import MLDeploy

/// How a service's declared inputs and outputs appear as Open Inference Protocol tensors — the one
/// convention the server's OIP routes and the OIP backend share.
///
/// | parameter type | tensor |
/// |---|---|
/// | `numeric` | `FP64`, shape `[1]` |
/// | `integer` | `INT64`, shape `[1]` |
/// | `logical` | `BOOL`, shape `[1]` |
/// | `character` | `BYTES` (UTF-8), shape `[1]` |
/// | `vector` | shape `[n]`; `INT64`, `FP64`, `BOOL` or `BYTES` by its elements |
/// | `matrix` | shape `[rows, columns]`, typed as a vector |
/// | `data.frame` | one tensor per column, shape `[rows]` (MLServer's pandas codec, `content_type: pd`) |
///
/// A data frame input takes every request tensor that names no other input as one of its columns
/// (in request order), or one 2-D tensor named like the input (columns `0`, `1`, …); a tensor
/// named `<input>.<column>` is that column of that data frame input. A data frame
/// output becomes one tensor per column, named by the column when it is the service's only
/// output, else `<output>.<column>`. A missing value (`None`) is an empty `FP64 [0]` tensor with
/// the parameter `"null": true`.
public enum OIPServiceMapping {
    /// The model metadata of a service version (`GET /v2/models/{name}/versions/{version}`).
    /// `tensors` replaces the inputs and outputs derived from the parameters (a realtime model's own).
    public static func metadata(_ info: ServiceInfo, platform: String, tensors: (inputs: [OIPTensorMetadata], outputs: [OIPTensorMetadata])? = nil, versions: [String]? = nil) -> JSONValue {
        let inputs = tensors?.inputs ?? info.inputs.map(Self.metadata)
        let outputs = tensors?.outputs ?? info.outputs.map(Self.metadata)
        var object: JSONObject = ["name": .string(info.name)]
        if let versions { object["versions"] = .array(versions.map { .string($0) }) }
        object["platform"] = .string(platform)
        object["inputs"] = .array(inputs.map(\.json))
        object["outputs"] = .array(outputs.map(\.json))
        return .object(object)
    }

    /// The tensor metadata a declared parameter maps to.
    public static func metadata(_ parameter: ParameterDefinition) -> OIPTensorMetadata {
        switch parameter.type {
        case .numeric: return OIPTensorMetadata(name: parameter.name, datatype: .fp64, shape: [1])
        case .integer: return OIPTensorMetadata(name: parameter.name, datatype: .int64, shape: [1])
        case .logical: return OIPTensorMetadata(name: parameter.name, datatype: .bool, shape: [1])
        case .character: return OIPTensorMetadata(name: parameter.name, datatype: .bytes, shape: [1])
        case .vector: return OIPTensorMetadata(name: parameter.name, datatype: .fp64, shape: [-1])
        case .matrix: return OIPTensorMetadata(name: parameter.name, datatype: .fp64, shape: [-1, -1])
        case .dataFrame: return OIPTensorMetadata(name: parameter.name, datatype: .fp64, shape: [-1, -1], parameters: ["content_type": "pd"])
        }
    }

    /// The parameter a tensor's metadata describes — the inverse of ``metadata(_:)-swift.type.method``
    /// for what this mapping writes, and a reasonable reading of anything else: `[1]` is a scalar
    /// of its type, one dimension a vector, two a matrix, `content_type: pd` a data frame.
    public static func parameter(_ metadata: OIPTensorMetadata) -> ParameterDefinition {
        if metadata.parameters["content_type"]?.stringValue == "pd" { return ParameterDefinition(name: metadata.name, type: .dataFrame) }
        if metadata.shape == [1] {
            let type: ParameterType = switch metadata.datatype {
            case .bool: .logical
            case .bytes: .character
            case .fp16, .fp32, .fp64: .numeric
            default: .integer
            }
            return ParameterDefinition(name: metadata.name, type: type)
        }
        return ParameterDefinition(name: metadata.name, type: metadata.shape.count == 2 ? .matrix : .vector)
    }

    /// The service's inputs from the request's tensors.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/inputMismatch`` for a missing input, a tensor that is
    ///   no input, or one whose shape or type the parameter cannot take — naming it and what fits.
    public static func inputs(_ tensors: [OIPTensor], for info: ServiceInfo) throws -> [String: MLValue] {
        var values: [String: MLValue] = [:]
        let declared = Set(info.inputs.map(\.name))
        let frameInput = info.inputs.first { $0.type == .dataFrame && !tensors.map(\.name).contains($0.name) }
        var columns: [DataFrame.Column] = []
        // `<frame>.<column>` names a column of that data frame (what several outputs are sent as).
        var framed: [String: [DataFrame.Column]] = [:]
        for tensor in tensors {
            if let dot = tensor.name.firstIndex(of: "."), let frame = info.inputs.first(where: { $0.type == .dataFrame && $0.name == tensor.name[..<dot] }),
               !info.inputs.contains(where: { $0.name == tensor.name }) {
                framed[frame.name, default: []].append(DataFrame.Column(name: String(tensor.name[tensor.name.index(after: dot)...]), values: Self.scalars(tensor)))
                continue
            }
            guard let parameter = info.inputs.first(where: { $0.name == tensor.name }) else {
                guard frameInput != nil else {
                    throw MLDeployError(
                        code: .inputMismatch,
                        message: "Input tensor '\(tensor.name)' is not an input of \(info.name)/\(info.version); its inputs are \(info.inputs.map(\.name).joined(separator: ", "))."
                    )
                }
                guard tensor.shape.count == 1 || (tensor.shape.count == 2 && tensor.shape[1] == 1) else {
                    throw MLDeployError(code: .inputMismatch, message: "Tensor '\(tensor.name)' is a data frame column, so its shape must be [rows] or [rows, 1], not \(tensor.shape).")
                }
                columns.append(DataFrame.Column(name: tensor.name, values: Self.scalars(tensor)))
                continue
            }
            values[parameter.name] = try Self.value(tensor, as: parameter)
        }
        for (name, frameColumns) in framed { values[name] = .dataFrame(try DataFrame(columns: frameColumns)) }
        if let frameInput, !columns.isEmpty || values[frameInput.name] == nil {
            values[frameInput.name] = .dataFrame(try DataFrame(columns: columns))
        }
        if let missing = info.inputs.first(where: { values[$0.name] == nil && declared.contains($0.name) }) {
            throw MLDeployError(code: .inputMismatch, message: "Input '\(missing.name)' (\(missing.type.rawValue)) is missing: send a tensor named '\(missing.name)' shaped \(Self.metadata(missing).shape).")
        }
        return values
    }

    /// One parameter's value from its tensor.
    static func value(_ tensor: OIPTensor, as parameter: ParameterDefinition) throws -> MLValue {
        // No value (Python's None): an empty tensor marked `"null": true`.
        if tensor.parameters["null"]?.boolValue == true, tensor.elements.count == 0 { return .null }
        let cells = Self.scalars(tensor)
        func one() throws -> MLScalar {
            guard cells.count == 1 else {
                throw MLDeployError(code: .inputMismatch, message: "Input '\(parameter.name)' is \(parameter.type.rawValue): one element, but tensor has shape \(tensor.shape).")
            }
            return cells[0]
        }
        switch parameter.type {
        case .numeric:
            guard let number = try one().doubleValue else { throw Self.mismatch(parameter, tensor, "a number (FP64, FP32, INT64, …)") }
            return .numeric(number)
        case .integer:
            guard let number = try one().intValue else { throw Self.mismatch(parameter, tensor, "an integer (INT64, INT32, …)") }
            return .integer(number)
        case .logical:
            guard let flag = try one().boolValue else { throw Self.mismatch(parameter, tensor, "a BOOL") }
            return .logical(flag)
        case .character:
            guard let text = try one().stringValue else { throw Self.mismatch(parameter, tensor, "BYTES") }
            return .character(text)
        case .vector:
            return .vector(cells)
        case .matrix:
            guard tensor.shape.count == 2 else {
                throw MLDeployError(code: .inputMismatch, message: "Input '\(parameter.name)' is a matrix: send a 2-D tensor [rows, columns], not shape \(tensor.shape).")
            }
            let width = tensor.shape[1]
            return .matrix(width == 0 ? Array(repeating: [], count: tensor.shape[0]) : stride(from: 0, to: cells.count, by: width).map { Array(cells[$0..<($0 + width)]) })
        case .dataFrame:
            guard tensor.shape.count == 2 else {
                throw MLDeployError(
                    code: .inputMismatch,
                    message: "Input '\(parameter.name)' is a data frame: send one tensor per column (any other names), or one 2-D tensor [rows, columns] named '\(parameter.name)', not shape \(tensor.shape)."
                )
            }
            let (rows, width) = (tensor.shape[0], tensor.shape[1])
            return .dataFrame(try DataFrame(columns: (0..<width).map { column in
                DataFrame.Column(name: String(column), values: (0..<rows).map { cells[$0 * width + column] })
            }))
        }
    }

    private static func mismatch(_ parameter: ParameterDefinition, _ tensor: OIPTensor, _ expected: String) -> MLDeployError {
        MLDeployError(code: .inputMismatch, message: "Input '\(parameter.name)' is \(parameter.type.rawValue): send \(expected), not \(tensor.datatype.rawValue).")
    }

    /// The tensor's elements as cells.
    public static func scalars(_ tensor: OIPTensor) -> [MLScalar] {
        switch tensor.elements {
        case .bools(let values): return values.map { .logical($0) }
        case .integers(let values): return values.map { .integer(Int($0)) }
        case .unsigned(let values): return values.map { .integer(Int(truncatingIfNeeded: $0)) }
        case .numbers(let values): return values.map { $0.isNaN ? .null : .numeric($0) }  // NaN is how tensors say "missing"
        case .bytes(let values):
            guard tensor.parameters["content_type"]?.stringValue == "json" else { return values.map { .character(String(decoding: $0, as: UTF8.self)) } }
            return values.map { bytes in
                switch try? JSONValue(parsing: bytes) {
                case .integer(let value)?: .integer(value)
                case .double(let value)?: .numeric(value)
                case .string(let value)?: .character(value)
                case .bool(let value)?: .logical(value)
                default: .null
                }
            }
        }
    }

    /// The response's outputs as tensors, in the service's declared order.
    public static func outputs(_ outputs: [String: MLValue], for info: ServiceInfo) -> [OIPTensor] {
        var tensors: [OIPTensor] = []
        let declared = info.outputs.isEmpty ? outputs.keys.sorted().map { ParameterDefinition(name: $0, type: .vector) } : info.outputs
        for parameter in declared {
            guard let value = outputs[parameter.name] else { continue }
            switch value {
            case .null: tensors.append(OIPTensor(name: parameter.name, datatype: .fp64, shape: [0], elements: .numbers([]), parameters: ["null": true]))
            case .integer, .numeric, .character, .logical:
                tensors.append(Self.tensor(parameter.name, cells: [value.scalar!], shape: [1]))
            case .vector(let cells): tensors.append(Self.tensor(parameter.name, cells: cells, shape: [cells.count]))
            case .matrix(let rows):
                tensors.append(Self.tensor(parameter.name, cells: rows.flatMap { $0 }, shape: [rows.count, rows.first?.count ?? 0]))
            case .dataFrame(let frame):
                let alone = declared.count == 1
                for column in frame.columns {
                    var tensor = Self.tensor(alone ? column.name : "\(parameter.name).\(column.name)", cells: column.values, shape: [column.values.count])
                    if tensor.parameters["content_type"] == nil { tensor.parameters["content_type"] = "pd" }  // mixed cells keep "json"
                    tensors.append(tensor)
                }
            }
        }
        return tensors
    }

    /// A tensor of `cells`, typed by them so they come back as they went: all integers `INT64`,
    /// numbers `FP64` (a missing cell is NaN), all booleans `BOOL`, all text `BYTES`; anything
    /// mixed (integers with text or nulls, numbers with booleans) `BYTES` of one JSON value per
    /// element, marked `"content_type": "json"`.
    public static func tensor(_ name: String, cells: [MLScalar], shape: [Int]) -> OIPTensor {
        if cells.allSatisfy({ if case .integer = $0 { return true } else { return false } }) {
            return OIPTensor(name: name, datatype: .int64, shape: shape, elements: .integers(cells.map { Int64($0.intValue!) }))
        }
        if cells.allSatisfy({ if case .numeric = $0 { return true } else { return $0 == .null } }), cells.contains(where: { $0 != .null }) || cells.isEmpty {
            return OIPTensor(name: name, datatype: .fp64, shape: shape, elements: .numbers(cells.map { $0.doubleValue ?? .nan }))
        }
        if cells.allSatisfy({ $0.boolValue != nil }) {
            return OIPTensor(name: name, datatype: .bool, shape: shape, elements: .bools(cells.map { $0.boolValue! }))
        }
        if cells.allSatisfy({ $0.stringValue != nil }) {
            return OIPTensor(name: name, datatype: .bytes, shape: shape, elements: .bytes(cells.map { Array($0.stringValue!.utf8) }))
        }
        let encoded = cells.map { cell -> [UInt8] in
            let json: JSONValue = switch cell {
            case .null: .null
            case .integer(let value): .integer(value)
            case .numeric(let value): value.isFinite ? .double(value) : .null
            case .character(let value): .string(value)
            case .logical(let value): .bool(value)
            }
            return (try? json.serializedBytes()) ?? Array("null".utf8)
        }
        return OIPTensor(name: name, datatype: .bytes, shape: shape, elements: .bytes(encoded), parameters: ["content_type": "json"])
    }
}
