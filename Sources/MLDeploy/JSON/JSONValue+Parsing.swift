import Foundation

extension JSONValue {
    /// The deepest nesting the parser accepts. Deeper documents are refused rather than risking the
    /// stack on hostile input (the server parses request bodies with this parser).
    public static let maximumNestingDepth = 512

    /// Parses JSON text (RFC 8259).
    ///
    /// Refuses `NaN`, `Infinity`, trailing commas, comments, control characters inside strings and
    /// anything after the top-level value except whitespace.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidJSON`` naming the byte offset.
    public init(parsing text: String) throws {
        var text = text
        self = try text.withUTF8 { try JSONValue(parsingUTF8: $0) }
    }

    /// Parses JSON from UTF-8 bytes. See ``init(parsing:)-(String)``.
    public init(parsing data: Data) throws {
        self = try data.withUnsafeBytes { raw in
            try JSONValue(parsingUTF8: raw.bindMemory(to: UInt8.self))
        }
    }

    /// Parses JSON from UTF-8 bytes. See ``init(parsing:)-(String)``.
    public init(parsing bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBufferPointer { try JSONValue(parsingUTF8: $0) }
    }

    init(parsingUTF8 buffer: UnsafeBufferPointer<UInt8>) throws {
        var parser = JSONParser(buffer)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else {
            throw parser.failure("unexpected text after the JSON value")
        }
        self = value
    }
}

/// A recursive-descent JSON parser over a UTF-8 buffer.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func failure(_ what: String) -> MLDeployError {
        MLDeployError(code: .invalidJSON, message: "Invalid JSON at byte \(self.index): \(what).")
    }

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard self.index < self.bytes.count else { throw self.failure("unexpected end of input") }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"):
            return try self.parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try self.parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try self.parseString())
        case UInt8(ascii: "t"):
            try self.expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try self.parseNumber()
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw self.failure("NaN and Infinity are not JSON; send finite numbers")
        default:
            throw self.failure("unexpected character '\(Character(Unicode.Scalar(self.bytes[self.index])))'")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.failure("unexpected end of input") }
        let start = literal.utf8Start
        for offset in 0..<count where self.bytes[self.index + offset] != start[offset] {
            throw self.failure("invalid literal")
        }
        self.index += count
    }

    mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maximumNestingDepth else { throw self.failure("nesting deeper than \(JSONValue.maximumNestingDepth)") }
        self.index += 1  // {
        var object = JSONObject()
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return .object(object)
        }
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                throw self.failure("expected a string key")
            }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else {
                throw self.failure("expected ':' after an object key")
            }
            self.index += 1
            self.skipWhitespace()
            object.append(key, try self.parseValue(depth: depth))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.failure("unterminated object") }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","):
                self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return .object(object)
            default:
                throw self.failure("expected ',' or '}' in an object")
            }
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maximumNestingDepth else { throw self.failure("nesting deeper than \(JSONValue.maximumNestingDepth)") }
        self.index += 1  // [
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return .array(elements)
        }
        while true {
            self.skipWhitespace()
            elements.append(try self.parseValue(depth: depth))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.failure("unterminated array") }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","):
                self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return .array(elements)
            default:
                throw self.failure("expected ',' or ']' in an array")
            }
        }
    }

    mutating func parseString() throws -> String {
        self.index += 1  // opening quote
        let start = self.index
        // Fast path: no escapes.
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
                self.index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw self.failure("control character inside a string") }
            self.index += 1
        }
        guard self.index < self.bytes.count else { throw self.failure("unterminated string") }
        // Slow path: decode escapes.
        var scalars: [UInt8] = Array(UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]))
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                self.index += 1
                return String(decoding: scalars, as: UTF8.self)
            }
            if byte < 0x20 { throw self.failure("control character inside a string") }
            if byte != UInt8(ascii: "\\") {
                scalars.append(byte)
                self.index += 1
                continue
            }
            self.index += 1
            guard self.index < self.bytes.count else { throw self.failure("unterminated escape") }
            let escape = self.bytes[self.index]
            self.index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append(0x22)
            case UInt8(ascii: "\\"): scalars.append(0x5C)
            case UInt8(ascii: "/"): scalars.append(0x2F)
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var code = try self.parseHex4()
                if (0xD800...0xDBFF).contains(code) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                        self.bytes[self.index + 1] == UInt8(ascii: "u")
                    else { throw self.failure("unpaired UTF-16 surrogate") }
                    self.index += 2
                    let low = try self.parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw self.failure("unpaired UTF-16 surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw self.failure("unpaired UTF-16 surrogate")
                }
                guard let scalar = Unicode.Scalar(code) else { throw self.failure("invalid unicode escape") }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw self.failure("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
        }
        throw self.failure("unterminated string")
    }

    mutating func parseHex4() throws -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.failure("truncated unicode escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw self.failure("invalid hex digit in unicode escape")
            }
            value = value << 4 | digit
            self.index += 1
        }
        return value
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = self.index
        var isInteger = true
        if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
        // Integer part: "0" or [1-9][0-9]*.
        guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
            throw self.failure("expected a digit")
        }
        if self.bytes[self.index] == UInt8(ascii: "0") {
            self.index += 1
            if self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) {
                throw self.failure("leading zeros are not allowed")
            }
        } else {
            self.skipDigits()
        }
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ".") {
            isInteger = false
            self.index += 1
            guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
                throw self.failure("expected a digit after '.'")
            }
            self.skipDigits()
        }
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "e") || self.bytes[self.index] == UInt8(ascii: "E") {
            isInteger = false
            self.index += 1
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-") {
                self.index += 1
            }
            guard self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) else {
                throw self.failure("expected a digit in the exponent")
            }
            self.skipDigits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
        if isInteger, let value = Int(text) {
            return .integer(value)
        }
        guard let value = Double(text), value.isFinite else {
            throw self.failure("number out of range")
        }
        return .double(value)
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    mutating func skipDigits() {
        while self.index < self.bytes.count, self.isDigit(self.bytes[self.index]) {
            self.index += 1
        }
    }
}
