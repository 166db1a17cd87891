/// One cell of a vector, a matrix or a data-frame column.
public enum MLScalar: Sendable, Hashable, CustomStringConvertible {
    /// A missing value (JSON `null`, Python `None`/`NaN` in pandas object columns).
    case null
    /// A whole number.
    case integer(Int)
    /// A floating-point number; must be finite to be sent.
    case numeric(Double)
    /// A string.
    case character(String)
    /// A boolean.
    case logical(Bool)

    /// The number as a double, for `integer` and `numeric` cells.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .numeric(let value): return value
        default: return nil
        }
    }

    /// The whole number, for `integer` cells and `numeric` cells holding an exact whole number.
    public var intValue: Int? {
        switch self {
        case .integer(let value): return value
        case .numeric(let value): return Int(exactly: value)
        default: return nil
        }
    }

    /// The string, for `character` cells.
    public var stringValue: String? {
        if case .character(let value) = self { return value }
        return nil
    }

    /// The boolean, for `logical` cells.
    public var boolValue: Bool? {
        if case .logical(let value) = self { return value }
        return nil
    }

    /// Whether the cell is ``null``.
    public var isNull: Bool { self == .null }

    /// A Python-like rendering: `None`, `5`, `2.5`, `'x'`, `True`.
    public var description: String {
        switch self {
        case .null: return "None"
        case .integer(let value): return String(value)
        case .numeric(let value): return value.description
        case .character(let value): return "'\(value)'"
        case .logical(let value): return value ? "True" : "False"
        }
    }

    /// The cell as JSON. Throws for NaN or infinity.
    public func jsonValue() throws -> JSONValue {
        switch self {
        case .null: return .null
        case .integer(let value): return .integer(value)
        case .numeric(let value):
            guard value.isFinite else { throw MLDeployError.invalidValue("\(value) is not a finite number; JSON cannot carry it.") }
            return .double(value)
        case .character(let value): return .string(value)
        case .logical(let value): return .bool(value)
        }
    }

    /// Reads a cell from JSON; arrays and objects are not cells.
    public init?(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .logical(value)
        case .integer(let value): self = .integer(value)
        case .double(let value): self = .numeric(value)
        case .string(let value): self = .character(value)
        case .array, .object: return nil
        }
    }
}

extension MLScalar: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    /// ``null``.
    public init(nilLiteral: ()) { self = .null }
    /// ``integer(_:)``.
    public init(integerLiteral value: Int) { self = .integer(value) }
    /// ``numeric(_:)``.
    public init(floatLiteral value: Double) { self = .numeric(value) }
    /// ``character(_:)``.
    public init(stringLiteral value: String) { self = .character(value) }
    /// ``logical(_:)``.
    public init(booleanLiteral value: Bool) { self = .logical(value) }
}
