import MLDeploy

/// A reader of the protocol-buffers wire format (varints, fixed-width numbers, length-delimited
/// fields), just enough to walk ONNX's messages field by field. Unknown fields are skipped, so
/// models from newer exporters still load when the fields we need are there.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
    }

    private init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { self.position >= self.end }

    static func malformed(_ what: String) -> MLDeployError {
        MLDeployError(code: .invalidArgument, message: "The model is not a valid ONNX file: \(what).")
    }

    /// The next field's number and wire type, or `nil` at the end.
    mutating func nextField() throws -> (number: Int, type: WireType)? {
        guard !self.isAtEnd else { return nil }
        let key = try self.varint()
        guard let type = WireType(rawValue: UInt8(key & 7)) else { throw Self.malformed("unknown wire type \(key & 7)") }
        let number = Int(key >> 3)
        guard number > 0 else { throw Self.malformed("field number 0") }
        return (number, type)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard self.position < self.end else { throw Self.malformed("a number runs past the end") }
            let byte = self.bytes[self.position]
            self.position += 1
            guard shift < 64 else { throw Self.malformed("a number longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func int64() throws -> Int64 { Int64(bitPattern: try self.varint()) }

    mutating func fixed32() throws -> UInt32 {
        guard self.end - self.position >= 4 else { throw Self.malformed("a 32-bit number runs past the end") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(self.bytes[self.position + index]) << (8 * UInt32(index)) }
        self.position += 4
        return value
    }

    mutating func fixed64() throws -> UInt64 {
        guard self.end - self.position >= 8 else { throw Self.malformed("a 64-bit number runs past the end") }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(self.bytes[self.position + index]) << (8 * UInt64(index)) }
        self.position += 8
        return value
    }

    mutating func float() throws -> Float { Float(bitPattern: try self.fixed32()) }

    mutating func double() throws -> Double { Double(bitPattern: try self.fixed64()) }

    /// A length-delimited field's bytes.
    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        let length = try self.varint()
        guard length <= UInt64(self.end - self.position) else { throw Self.malformed("a field's length runs past the end") }
        let start = self.position
        self.position += Int(length)
        return self.bytes[start..<self.position]
    }

    /// A reader of an embedded message.
    mutating func message() throws -> ProtobufReader {
        let slice = try self.lengthDelimited()
        return ProtobufReader(self.bytes, range: slice.startIndex..<slice.endIndex)
    }

    mutating func string() throws -> String {
        String(decoding: try self.lengthDelimited(), as: UTF8.self)
    }

    /// Skips a field of `type`.
    mutating func skip(_ type: WireType) throws {
        switch type {
        case .varint: _ = try self.varint()
        case .fixed64: _ = try self.fixed64()
        case .fixed32: _ = try self.fixed32()
        case .lengthDelimited: _ = try self.lengthDelimited()
        case .startGroup, .endGroup: throw Self.malformed("groups are not used by ONNX")
        }
    }

    /// Repeated numbers, packed (one length-delimited field) or not (one value per field).
    mutating func int64s(_ type: WireType, into values: inout [Int64]) throws {
        if type == .lengthDelimited {
            var packed = try self.message()
            while !packed.isAtEnd { values.append(try packed.int64()) }
        } else {
            values.append(try self.int64())
        }
    }

    mutating func floats(_ type: WireType, into values: inout [Float]) throws {
        if type == .lengthDelimited {
            var packed = try self.message()
            while !packed.isAtEnd { values.append(try packed.float()) }
        } else {
            values.append(try self.float())
        }
    }

    mutating func doubles(_ type: WireType, into values: inout [Double]) throws {
        if type == .lengthDelimited {
            var packed = try self.message()
            while !packed.isAtEnd { values.append(try packed.double()) }
        } else {
            values.append(try self.double())
        }
    }
}
