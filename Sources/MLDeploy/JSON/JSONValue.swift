/// A JSON document, kept exactly as the wire has it.
///
/// MLDeploy carries its own JSON value instead of `JSONSerialization` or `Codable` because the ML
/// Server protocol depends on two things those lose:
///
/// - **Key order.** A `data.frame` travels as `{"column": [...], ...}` and its column order is part of
///   the value. ``JSONObject`` keeps members in document order.
/// - **Integer versus floating point.** `120` and `120.0` are different on the wire: the Python SDK
///   sends `float(x)` for `numeric` and `int(x)` for `integer`. ``integer(_:)`` and ``double(_:)``
///   keep them apart.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number written without a fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number. Never NaN or infinite: the parser and serializer refuse those.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, members in document order.
    case object(JSONObject)
}

/// The members of a JSON object, in document order.
///
/// Lookups are linear; objects on this protocol are small (a service's parameters, a data frame's
/// columns). When a document repeats a key, the last occurrence wins on lookup, as in Python.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One member: a key and its value.
    public struct Member: Sendable, Hashable {
        /// The member's key.
        public var key: String
        /// The member's value.
        public var value: JSONValue

        /// Creates a member.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members in document order.
    public private(set) var members: [Member]

    /// An empty object.
    public init() {
        self.members = []
    }

    /// An object with these members, in this order.
    public init(members: [Member]) {
        self.members = members
    }

    /// Creates an object from a literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.members = elements.map { Member(key: $0.0, value: $0.1) }
    }

    /// The keys in document order.
    public var keys: [String] { self.members.map(\.key) }

    /// The number of members.
    public var count: Int { self.members.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { self.members.isEmpty }

    /// The value for `key` (the last one if the key repeats), or `nil`. Setting `nil` removes the key;
    /// setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get {
            self.members.last(where: { $0.key == key })?.value
        }
        set {
            if let newValue {
                if let index = self.members.lastIndex(where: { $0.key == key }) {
                    self.members[index].value = newValue
                } else {
                    self.members.append(Member(key: key, value: newValue))
                }
            } else {
                self.members.removeAll { $0.key == key }
            }
        }
    }

    /// Appends a member without checking for an existing key (fast path for building documents).
    public mutating func append(_ key: String, _ value: JSONValue) {
        self.members.append(Member(key: key, value: value))
    }

    /// Iterates the members in document order.
    public func makeIterator() -> IndexingIterator<[Member]> {
        self.members.makeIterator()
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer.
    public init(integerLiteral value: Int) { self = .integer(value) }
    /// A double.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// An object in literal order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(members: elements.map { JSONObject.Member(key: $0.0, value: $0.1) }))
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The boolean, if this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The integer, if this is an integer or a double with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .integer(let value):
            return value
        case .double(let value):
            return Int(exactly: value)
        default:
            return nil
        }
    }

    /// The number as a double, if this is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        self.objectValue?[key]
    }

    /// A short name of the JSON type, for error messages (`"string"`, `"array"`, …).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .integer: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
