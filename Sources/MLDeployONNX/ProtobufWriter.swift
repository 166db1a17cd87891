import Foundation

/// Writes the protocol-buffers wire format — the counterpart of ``ProtobufReader`` — for the small
/// models ``ONNXModel/linearRegressor(coefficients:intercept:)`` makes.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    private mutating func key(_ field: Int, _ type: ProtobufReader.WireType) {
        self.varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    mutating func int(_ field: Int, _ value: Int64) {
        self.key(field, .varint)
        self.varint(UInt64(bitPattern: value))
    }

    mutating func string(_ field: Int, _ value: String) {
        self.bytes(field, Array(value.utf8))
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        self.key(field, .lengthDelimited)
        self.varint(UInt64(value.count))
        self.bytes += value
    }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        self.bytes(field, inner.bytes)
    }

    /// Packed floats.
    mutating func floats(_ field: Int, _ values: [Float]) {
        var packed: [UInt8] = []
        for value in values {
            let bits = value.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { packed.append(UInt8((bits >> UInt32(shift)) & 0xFF)) }
        }
        self.bytes(field, packed)
    }
}

extension ONNXModel {
    /// A minimal ONNX model: `y = x · coefficients + intercept` over one float input `input`
    /// (`[N, coefficients.count]`) with one output `variable` (`[N, 1]`) — ONNX-ML's
    /// LinearRegressor, written with the project's own protobuf writer. For fixtures, examples and
    /// tests that need a real model without Python.
    public static func linearRegressor(coefficients: [Float], intercept: Float) -> Data {
        func tensorType(_ writer: inout ProtobufWriter, width: Int) {
            writer.message(1) { tensor in  // TypeProto.tensor_type
                tensor.int(1, Int64(ElementType.float.rawValue))
                tensor.message(2) { shape in
                    shape.message(1) { _ in }  // a symbolic batch dimension
                    shape.message(1) { dimension in dimension.int(1, Int64(width)) }
                }
            }
        }
        var model = ProtobufWriter()
        model.int(1, 8)  // ir_version
        model.string(2, "mldeploy")
        model.message(7) { graph in
            graph.message(1) { node in
                node.string(1, "input")
                node.string(2, "variable")
                node.string(4, "LinearRegressor")
                node.string(7, "ai.onnx.ml")
                node.message(5) { attribute in
                    attribute.string(1, "coefficients")
                    attribute.floats(7, coefficients)
                    attribute.int(20, 6)  // FLOATS
                }
                node.message(5) { attribute in
                    attribute.string(1, "intercepts")
                    attribute.floats(7, [intercept])
                    attribute.int(20, 6)
                }
            }
            graph.string(2, "linear")
            graph.message(11) { input in
                input.string(1, "input")
                input.message(2) { tensorType(&$0, width: coefficients.count) }
            }
            graph.message(12) { output in
                output.string(1, "variable")
                output.message(2) { tensorType(&$0, width: 1) }
            }
        }
        model.message(8) { opset in opset.int(2, 15) }
        model.message(8) { opset in
            opset.string(1, "ai.onnx.ml")
            opset.int(2, 3)
        }
        return Data(model.bytes)
    }
}
