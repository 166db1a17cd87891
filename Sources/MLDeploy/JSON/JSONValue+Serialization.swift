import Foundation

extension JSONValue {
    /// The compact JSON text of this value as UTF-8 bytes.
    ///
    /// Object members keep their order. Doubles are written in the shortest form that reads back as
    /// the same value and always carry a fraction or exponent (`120.0`, `1e-05`), so a `numeric` stays
    /// a float for Python readers.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidValue`` if a double is NaN or
    ///   infinite: JSON cannot carry them, and the Python SDK refuses them too.
    public func serializedBytes() throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        try Self.write(self, into: &output)
        return output
    }

    /// The compact JSON text of this value. See ``serializedBytes()``.
    public func serialized() throws -> String {
        String(decoding: try self.serializedBytes(), as: UTF8.self)
    }

    /// The compact JSON text of this value as `Data`. See ``serializedBytes()``.
    public func serializedData() throws -> Data {
        Data(try self.serializedBytes())
    }

    private static func write(_ value: JSONValue, into output: inout [UInt8]) throws {
        switch value {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number):
            output.append(contentsOf: String(number).utf8)
        case .double(let number):
            guard number.isFinite else {
                throw MLDeployError.invalidValue("\(number) cannot be sent as JSON; only finite numbers can.")
            }
            output.append(contentsOf: number.description.utf8)
        case .string(let text):
            Self.writeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                try Self.write(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            for (offset, member) in object.members.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                try Self.write(member.value, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""):
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "\\"))
            case 0x0A:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "n"))
            case 0x0D:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "r"))
            case 0x09:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                output.append(contentsOf: "\\u00".utf8)
                output.append(Self.hexDigits[Int(byte >> 4)])
                output.append(Self.hexDigits[Int(byte & 0x0F)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
