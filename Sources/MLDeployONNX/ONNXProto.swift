import MLDeploy

/// The parts of ONNX's protobuf messages the engine reads (field numbers from the ONNX
/// specification's `onnx.proto`).
struct ModelProto: Sendable {
    var irVersion: Int64 = 0
    var opsets: [String: Int64] = [:]
    var producer = ""
    var graph = GraphProto()

    init(bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes)
        var sawGraph = false
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, .varint): self.irVersion = try reader.int64()
            case (2, .lengthDelimited): self.producer = try reader.string()
            case (7, .lengthDelimited):
                var message = try reader.message()
                self.graph = try GraphProto(&message)
                sawGraph = true
            case (8, .lengthDelimited):
                var message = try reader.message()
                var domain = "", version: Int64 = 0
                while let (field, type) = try message.nextField() {
                    switch (field, type) {
                    case (1, .lengthDelimited): domain = try message.string()
                    case (2, .varint): version = try message.int64()
                    default: try message.skip(type)
                    }
                }
                self.opsets[domain == "ai.onnx" ? "" : domain] = version
            default: try reader.skip(type)
            }
        }
        guard sawGraph else { throw ProtobufReader.malformed("it has no graph") }
    }
}

struct GraphProto: Sendable {
    var nodes: [NodeProto] = []
    var initializers: [TensorProto] = []
    var inputs: [ValueInfoProto] = []
    var outputs: [ValueInfoProto] = []

    init() {}

    init(_ reader: inout ProtobufReader) throws {
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, .lengthDelimited):
                var message = try reader.message()
                self.nodes.append(try NodeProto(&message))
            case (5, .lengthDelimited):
                var message = try reader.message()
                self.initializers.append(try TensorProto(&message))
            case (11, .lengthDelimited):
                var message = try reader.message()
                self.inputs.append(try ValueInfoProto(&message))
            case (12, .lengthDelimited):
                var message = try reader.message()
                self.outputs.append(try ValueInfoProto(&message))
            default: try reader.skip(type)
            }
        }
    }
}

struct NodeProto: Sendable {
    var inputs: [String] = []
    var outputs: [String] = []
    var name = ""
    var opType = ""
    var domain = ""
    var attributes: [String: AttributeProto] = [:]

    init(_ reader: inout ProtobufReader) throws {
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, .lengthDelimited): self.inputs.append(try reader.string())
            case (2, .lengthDelimited): self.outputs.append(try reader.string())
            case (3, .lengthDelimited): self.name = try reader.string()
            case (4, .lengthDelimited): self.opType = try reader.string()
            case (7, .lengthDelimited): self.domain = try reader.string()
            case (5, .lengthDelimited):
                var message = try reader.message()
                let attribute = try AttributeProto(&message)
                self.attributes[attribute.name] = attribute
            default: try reader.skip(type)
            }
        }
        if self.domain == "ai.onnx" { self.domain = "" }
    }
}

struct AttributeProto: Sendable {
    var name = ""
    var float: Float?
    var int: Int64?
    var string: String?
    var tensor: TensorProto?
    var floats: [Float] = []
    var ints: [Int64] = []
    var strings: [String] = []

    init(_ reader: inout ProtobufReader) throws {
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, .lengthDelimited): self.name = try reader.string()
            case (2, .fixed32): self.float = try reader.float()
            case (3, .varint): self.int = try reader.int64()
            case (4, .lengthDelimited): self.string = try reader.string()
            case (5, .lengthDelimited):
                var message = try reader.message()
                self.tensor = try TensorProto(&message)
            case (7, _): try reader.floats(type, into: &self.floats)
            case (8, _): try reader.int64s(type, into: &self.ints)
            case (9, .lengthDelimited): self.strings.append(try reader.string())
            default: try reader.skip(type)
            }
        }
    }
}

/// ONNX tensor element types used here.
enum ElementType: Int64, Sendable {
    case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, string = 8, bool = 9, double = 11
}

struct TensorProto: Sendable {
    var name = ""
    var dims: [Int64] = []
    var dataType: Int64 = 0
    var floatData: [Float] = []
    var doubleData: [Double] = []
    var int64Data: [Int64] = []
    var int32Data: [Int64] = []
    var stringData: [String] = []
    var rawData: [UInt8] = []

    init(_ reader: inout ProtobufReader) throws {
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, _): try reader.int64s(type, into: &self.dims)
            case (2, .varint): self.dataType = try reader.int64()
            case (4, _): try reader.floats(type, into: &self.floatData)
            case (5, _): try reader.int64s(type, into: &self.int32Data)
            case (6, .lengthDelimited): self.stringData.append(try reader.string())
            case (7, _): try reader.int64s(type, into: &self.int64Data)
            case (8, .lengthDelimited): self.name = try reader.string()
            case (9, .lengthDelimited): self.rawData = Array(try reader.lengthDelimited())
            case (10, _): try reader.doubles(type, into: &self.doubleData)
            case (13, .lengthDelimited): throw MLDeployError(code: .unsupported, message: "Tensor '\(self.name)' keeps its data in an external file; embed the data in the model.")
            default: try reader.skip(type)
            }
        }
    }

    /// The tensor as the engine's value.
    func tensor() throws -> Tensor {
        let shape = self.dims.map(Int.init)
        let count = shape.reduce(1, *)
        func raw<T>(_ size: Int, _ decode: (ArraySlice<UInt8>) -> T) throws -> [T] {
            guard self.rawData.count == count * size else { throw ProtobufReader.malformed("tensor '\(self.name)' has \(self.rawData.count) bytes of data for \(count) values") }
            return (0..<count).map { decode(self.rawData[($0 * size)..<($0 * size + size)]) }
        }
        func little(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        let values: Tensor.Storage
        switch ElementType(rawValue: self.dataType) {
        case .float:
            values = .double(self.rawData.isEmpty ? self.floatData.map(Double.init) : try raw(4) { Double(Float(bitPattern: UInt32(little($0)))) })
        case .double:
            values = .double(self.rawData.isEmpty ? self.doubleData : try raw(8) { Double(bitPattern: little($0)) })
        case .int64:
            values = .int64(self.rawData.isEmpty ? self.int64Data : try raw(8) { Int64(bitPattern: little($0)) })
        case .int32, .int8, .uint8, .bool:
            let size = self.dataType == ElementType.int32.rawValue ? 4 : 1
            values = .int64(self.rawData.isEmpty ? self.int32Data : try raw(size) { bytes in
                let bits = little(bytes)
                return size == 4 ? Int64(Int32(bitPattern: UInt32(bits))) : (self.dataType == ElementType.int8.rawValue ? Int64(Int8(bitPattern: UInt8(bits))) : Int64(bits))
            })
        case .string:
            values = .string(self.stringData)
        case nil:
            throw MLDeployError(code: .unsupported, message: "Tensor '\(self.name)' has element type \(self.dataType), which this engine does not support.")
        }
        let tensor = Tensor(shape: shape, storage: values, elementType: ElementType(rawValue: self.dataType) ?? .double)
        guard tensor.count == count else { throw ProtobufReader.malformed("tensor '\(self.name)' has \(tensor.count) values for shape \(shape)") }
        return tensor
    }
}

struct ValueInfoProto: Sendable {
    var name = ""
    /// The tensor element type, when the value is a tensor.
    var elementType: Int64?
    /// The shape: a size, or `nil` for a symbolic or unknown dimension.
    var shape: [Int?] = []
    /// Whether the value is a sequence of maps (ZipMap's output).
    var isSequence = false

    init(_ reader: inout ProtobufReader) throws {
        while let (field, type) = try reader.nextField() {
            switch (field, type) {
            case (1, .lengthDelimited): self.name = try reader.string()
            case (2, .lengthDelimited):
                var typeProto = try reader.message()
                while let (field, type) = try typeProto.nextField() {
                    switch (field, type) {
                    case (1, .lengthDelimited):
                        var tensorType = try typeProto.message()
                        while let (field, type) = try tensorType.nextField() {
                            switch (field, type) {
                            case (1, .varint): self.elementType = try tensorType.int64()
                            case (2, .lengthDelimited):
                                var shape = try tensorType.message()
                                while let (field, type) = try shape.nextField() {
                                    guard field == 1, type == .lengthDelimited else { try shape.skip(type); continue }
                                    var dimension = try shape.message()
                                    var size: Int?
                                    while let (field, type) = try dimension.nextField() {
                                        if field == 1, type == .varint { size = Int(try dimension.int64()) } else { try dimension.skip(type) }
                                    }
                                    self.shape.append(size)
                                }
                            default: try tensorType.skip(type)
                            }
                        }
                    case (4, .lengthDelimited):
                        self.isSequence = true
                        _ = try typeProto.lengthDelimited()
                    default: try typeProto.skip(type)
                    }
                }
            default: try reader.skip(type)
            }
        }
    }
}
