import MLDeploy

/// HTTP header fields in order, with case-insensitive lookup.
///
/// Names and values are checked when a request is sent: a CR, LF or NUL in either, or a name that is
/// not an RFC 9110 token, fails with ``MLDeploy/MLDeployError/Code/invalidRequest`` instead of
/// reaching the wire (header injection).
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One header field.
    public struct Field: Sendable, Hashable {
        /// The name as given.
        public var name: String
        /// The value.
        public var value: String

        /// Creates a field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The fields in order.
    public private(set) var fields: [Field]

    /// No fields.
    public init() {
        self.fields = []
    }

    /// Fields from a literal, in order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// The first value of `name` (ignoring case), or `nil`. Setting replaces every field of that name;
    /// setting `nil` removes them.
    public subscript(name: String) -> String? {
        get {
            self.fields.first { $0.name.caseInsensitiveEquals(name) }?.value
        }
        set {
            self.fields.removeAll { $0.name.caseInsensitiveEquals(name) }
            if let newValue { self.fields.append(Field(name: name, value: newValue)) }
        }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        self.fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// Whether a field named `name` exists.
    public func contains(_ name: String) -> Bool {
        self.fields.contains { $0.name.caseInsensitiveEquals(name) }
    }

    /// Makes room for `minimumCapacity` fields at once (the transport fills headers field by field
    /// on every request; growing one field at a time costs an allocation per doubling).
    mutating func reserveCapacity(_ minimumCapacity: Int) {
        self.fields.reserveCapacity(minimumCapacity)
    }

    /// Appends a field, keeping existing ones of the same name.
    public mutating func add(_ name: String, _ value: String) {
        self.fields.append(Field(name: name, value: value))
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> {
        self.fields.makeIterator()
    }

    /// `Name: value` lines, with `Authorization`, `Cookie` and token-bearing headers redacted.
    public var description: String {
        self.fields.map { "\($0.name): \(Self.isSensitive($0.name) ? "<redacted>" : $0.value)" }.joined(separator: "\n")
    }

    /// Whether a header carries credentials and must never be logged.
    public static func isSensitive(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "authorization" || lowered == "proxy-authorization" || lowered == "cookie" || lowered == "set-cookie"
            || lowered.contains("token") || lowered.contains("api-key") || lowered.contains("secret")
    }

    /// Checks every field can go on the wire as is.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidRequest`` naming the offending header.
    public func validate() throws {
        for field in self.fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(Self.isTokenByte) else {
                throw MLDeployError(code: .invalidRequest, message: "Invalid header name \(field.name.debugDescription): header names are tokens, without spaces, colons or control characters.")
            }
            if field.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                throw MLDeployError(code: .invalidRequest, message: "The value of header '\(field.name)' contains CR, LF or NUL; header values are single lines.")
            }
        }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension String {
    /// ASCII case-insensitive equality, without allocating (header names are ASCII tokens).
    func caseInsensitiveEquals(_ other: String) -> Bool {
        var left = self.utf8.makeIterator()
        var right = other.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case (let a?, let b?):
                if a != b, (a | 0x20) != (b | 0x20) || !((a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A) { return false }
            default: return false
            }
        }
    }
}
