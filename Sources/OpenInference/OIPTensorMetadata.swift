import MLDeploy

/// What model metadata says of one input or output: its name, element type and shape (`-1` for a
/// dimension of any size).
public struct OIPTensorMetadata: Sendable, Hashable {
    /// The tensor's name.
    public var name: String
    /// Its element type.
    public var datatype: OIPDatatype
    /// Its shape; `-1` marks a variable dimension.
    public var shape: [Int]
    /// Extra parameters (`content_type`, as MLServer's codecs name them).
    public var parameters: JSONObject

    /// Creates tensor metadata.
    public init(name: String, datatype: OIPDatatype, shape: [Int], parameters: JSONObject = [:]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.parameters = parameters
    }

    /// The metadata's JSON form (`name`, `datatype`, `shape`, and `parameters` when there are any).
    public var json: JSONValue {
        var object: JSONObject = ["name": .string(self.name), "datatype": .string(self.datatype.rawValue), "shape": .array(self.shape.map { .integer($0) })]
        if !self.parameters.isEmpty { object["parameters"] = .object(self.parameters) }
        return .object(object)
    }

    /// The metadata of an ONNX model's input or output: its element type as ONNX names it (`float`,
    /// `double`, `int64`, `int32`, `int8`, `uint8`, `string`, `bool`; `nil` reads as `float`) and
    /// its dimensions (`nil` for the batch dimension, `-1` here). A classifier's ZipMap output (a
    /// sequence of maps) is `FP32 [-1, -1]`: one column per class.
    public init(onnxName name: String, elementType: String?, shape: [Int?], isSequenceOfMaps: Bool = false) {
        if isSequenceOfMaps {
            self.init(name: name, datatype: .fp32, shape: [-1, -1])
            return
        }
        let datatype: OIPDatatype = switch elementType {
        case "double": .fp64
        case "int64": .int64
        case "int32": .int32
        case "int8": .int8
        case "uint8": .uint8
        case "string": .bytes
        case "bool": .bool
        default: .fp32
        }
        self.init(name: name, datatype: datatype, shape: shape.map { $0 ?? -1 })
    }

    /// Metadata from its JSON form.
    public init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue, let datatype = json["datatype"]?.stringValue.flatMap(OIPDatatype.init(rawValue:)),
              let shape = json["shape"]?.arrayValue?.compactMap(\.intValue)
        else { return nil }
        self.init(name: name, datatype: datatype, shape: shape, parameters: json["parameters"]?.objectValue ?? [:])
    }
}
