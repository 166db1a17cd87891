import Foundation
import MLDeploy

extension OIPTensor {
    /// A tensor from its JSON form (`name`, `datatype`, `shape`, `parameters`, `data`), with `data`
    /// nested or flat. A tensor whose parameters give `binary_data_size` takes its elements from
    /// `binary` instead (the binary data extension), which must hold exactly that many bytes.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming the tensor and what is wrong
    ///   with it (an unknown datatype, a malformed shape, data of the wrong type or count).
    public init(json: JSONValue, binary: ArraySlice<UInt8>? = nil, role: String = "input") throws {
        guard let object = json.objectValue else { throw MLDeployError(code: .invalidArgument, message: "Each \(role) must be a JSON object with name, datatype, shape and data.") }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw MLDeployError(code: .invalidArgument, message: "An \(role) has no name (a string).") }
        guard let spelled = object["datatype"]?.stringValue else { throw MLDeployError(code: .invalidArgument, message: "\(role.capitalized) '\(name)' has no datatype (BOOL, INT64, FP32, BYTES, …).") }
        guard let datatype = OIPDatatype(rawValue: spelled) else {
            throw MLDeployError(code: .invalidArgument, message: "\(role.capitalized) '\(name)' has datatype '\(spelled)'; use one of \(OIPDatatype.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard let dimensions = object["shape"]?.arrayValue, let shape = Optional(dimensions.compactMap(\.intValue)), shape.count == dimensions.count else {
            throw MLDeployError(code: .invalidArgument, message: "\(role.capitalized) '\(name)' has no shape (an array of integers).")
        }
        let parameters = object["parameters"]?.objectValue ?? [:]
        let elements: Elements
        if let binary {
            elements = try Self.decode(binary, as: datatype, count: shape.reduce(1, *), name: name)
        } else {
            guard let data = object["data"] else { throw MLDeployError(code: .invalidArgument, message: "\(role.capitalized) '\(name)' has no data.") }
            elements = try Self.elements(of: data, as: datatype, name: name)
        }
        self.init(name: name, datatype: datatype, shape: shape, elements: elements, parameters: parameters)
        try self.validate()
    }

    /// The elements of JSON `data` (nested arrays are flattened row-major).
    private static func elements(of data: JSONValue, as datatype: OIPDatatype, name: String) throws -> Elements {
        var flat: [JSONValue] = []
        func flatten(_ value: JSONValue) {
            if case .array(let items) = value { items.forEach(flatten) } else { flat.append(value) }
        }
        flatten(data)
        func wrong(_ index: Int, _ expected: String) -> MLDeployError {
            MLDeployError(code: .invalidArgument, message: "Tensor '\(name)' is \(datatype.rawValue), but element \(index) is \(flat[index]), not \(expected).")
        }
        switch datatype {
        case .bool:
            return .bools(try flat.enumerated().map { index, value in try value.boolValue ?? { throw wrong(index, "true or false") }() })
        case .bytes:
            return .bytes(try flat.enumerated().map { index, value in try value.stringValue.map { Array($0.utf8) } ?? { throw wrong(index, "a string") }() })
        case .fp16, .fp32, .fp64:
            // JSON has no NaN: a missing number travels as null.
            return .numbers(try flat.enumerated().map { index, value in value.isNull ? .nan : try value.doubleValue ?? { throw wrong(index, "a number") }() })
        case .uint8, .uint16, .uint32, .uint64:
            return .unsigned(try flat.enumerated().map { index, value in
                guard case .integer(let number) = value, number >= 0 else { throw wrong(index, "an unsigned integer") }
                return UInt64(number)
            })
        case .int8, .int16, .int32, .int64:
            return .integers(try flat.enumerated().map { index, value in
                guard let number = value.intValue, value.doubleValue == Double(number) else { throw wrong(index, "an integer") }
                return Int64(number)
            })
        }
    }

    /// The elements of binary tensor data: little-endian, row-major.
    static func decode(_ bytes: ArraySlice<UInt8>, as datatype: OIPDatatype, count: Int, name: String) throws -> Elements {
        func sizeMismatch(_ expected: Int) -> MLDeployError {
            MLDeployError(code: .invalidArgument, message: "Tensor '\(name)' has \(bytes.count) bytes of binary data; its shape and datatype \(datatype.rawValue) need \(expected).")
        }
        if datatype == .bytes {
            var values: [[UInt8]] = []
            var at = bytes.startIndex
            while at < bytes.endIndex {
                guard bytes.endIndex - at >= 4 else { throw MLDeployError(code: .invalidArgument, message: "Tensor '\(name)': its BYTES data ends inside an element's 4-byte length.") }
                let length = Int(UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
                at += 4
                guard bytes.endIndex - at >= length else { throw MLDeployError(code: .invalidArgument, message: "Tensor '\(name)': a BYTES element of \(length) bytes runs past the data.") }
                values.append(Array(bytes[at..<(at + length)]))
                at += length
            }
            guard values.count == count else {
                throw MLDeployError(code: .invalidArgument, message: "Tensor '\(name)' holds \(values.count) BYTES elements; its shape needs \(count).")
            }
            return .bytes(values)
        }
        let size = datatype.elementSize!
        guard bytes.count == size * count else { throw sizeMismatch(size * count) }
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            var values = [T](repeating: 0, count: count)
            values.withUnsafeMutableBytes { target in target.copyBytes(from: bytes) }
            return values.map { T(littleEndian: $0) }
        }
        switch datatype {
        case .bool: return .bools(bytes.map { $0 != 0 })
        case .uint8: return .unsigned(bytes.map(UInt64.init))
        case .uint16: return .unsigned(load(UInt16.self).map(UInt64.init))
        case .uint32: return .unsigned(load(UInt32.self).map(UInt64.init))
        case .uint64: return .unsigned(load(UInt64.self))
        case .int8: return .integers(bytes.map { Int64(Int8(bitPattern: $0)) })
        case .int16: return .integers(load(Int16.self).map(Int64.init))
        case .int32: return .integers(load(Int32.self).map(Int64.init))
        case .int64: return .integers(load(Int64.self))
        case .fp16: return .numbers(load(UInt16.self).map { Double(Float16(bitPattern: $0)) })
        case .fp32: return .numbers(load(UInt32.self).map { Double(Float(bitPattern: $0)) })
        case .fp64: return .numbers(load(UInt64.self).map { Double(bitPattern: $0) })
        case .bytes: fatalError("handled above")
        }
    }

    /// The elements as binary tensor data: little-endian, row-major.
    public func binaryData() -> [UInt8] {
        var out: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        switch (self.elements, self.datatype) {
        case (.bools(let values), _): out = values.map { $0 ? 1 : 0 }
        case (.bytes(let values), _):
            for value in values {
                append(UInt32(value.count))
                out.append(contentsOf: value)
            }
        case (.numbers(let values), .fp16): values.forEach { append(Float16($0).bitPattern) }
        case (.numbers(let values), .fp32): values.forEach { append(Float($0).bitPattern) }
        case (.numbers(let values), _): values.forEach { append($0.bitPattern) }
        case (.integers(let values), .int8): values.forEach { append(Int8(truncatingIfNeeded: $0)) }
        case (.integers(let values), .int16): values.forEach { append(Int16(truncatingIfNeeded: $0)) }
        case (.integers(let values), .int32): values.forEach { append(Int32(truncatingIfNeeded: $0)) }
        case (.integers(let values), _): values.forEach { append($0) }
        case (.unsigned(let values), .uint8): values.forEach { append(UInt8(truncatingIfNeeded: $0)) }
        case (.unsigned(let values), .uint16): values.forEach { append(UInt16(truncatingIfNeeded: $0)) }
        case (.unsigned(let values), .uint32): values.forEach { append(UInt32(truncatingIfNeeded: $0)) }
        case (.unsigned(let values), _): values.forEach { append($0) }
        }
        return out
    }

    /// The tensor's JSON form: flat `data`, or — with `binary` — `binary_data_size` in its
    /// parameters and no `data` (the bytes travel after the JSON).
    public func json(binarySize: Int? = nil) -> JSONValue {
        var parameters = self.parameters
        if let binarySize { parameters["binary_data_size"] = .integer(binarySize) }
        var object: JSONObject = ["name": .string(self.name), "datatype": .string(self.datatype.rawValue), "shape": .array(self.shape.map { .integer($0) })]
        if !parameters.isEmpty { object["parameters"] = .object(parameters) }
        if binarySize == nil {
            switch self.elements {
            case .bools(let values): object["data"] = .array(values.map { .bool($0) })
            case .integers(let values): object["data"] = .array(values.map { .integer(Int($0)) })
            case .unsigned(let values): object["data"] = .array(values.map { .integer(Int(truncatingIfNeeded: $0)) })
            case .numbers(let values): object["data"] = .array(values.map { $0.isFinite ? .double($0) : .null })
            case .bytes(let values): object["data"] = .array(values.map { .string(String(decoding: $0, as: UTF8.self)) })
            }
        }
        return .object(object)
    }
}
