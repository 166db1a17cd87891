/// A value passed to or returned from a service: one of the seven ML Server parameter types, or null.
///
/// Literals make calls read naturally:
///
/// ```swift
/// let response = try await service.consume(["hp": 120.0, "wt": 2.8, "label": "car", "flags": [1, 0]])
/// ```
///
/// Each case travels on the wire as ML Server and the Python SDK encode it — see ``json(as:)`` and ``init(json:as:)``.
public enum MLValue: Sendable, Hashable, CustomStringConvertible {
    /// No value (JSON `null`, Python `None`). Accepted for any declared type.
    case null
    /// A whole number (`integer`).
    case integer(Int)
    /// A floating-point number (`numeric`); must be finite.
    case numeric(Double)
    /// A string (`character`).
    case character(String)
    /// A boolean (`logical`).
    case logical(Bool)
    /// A one-dimensional array (`vector`).
    case vector([MLScalar])
    /// A two-dimensional array, row-major (`matrix`).
    case matrix([[MLScalar]])
    /// A table (`data.frame`).
    case dataFrame(DataFrame)

    /// The parameter type this value naturally has, or `nil` for ``null``.
    public var naturalType: ParameterType? {
        switch self {
        case .null: return nil
        case .integer: return .integer
        case .numeric: return .numeric
        case .character: return .character
        case .logical: return .logical
        case .vector: return .vector
        case .matrix: return .matrix
        case .dataFrame: return .dataFrame
        }
    }

    /// The value as a scalar, for the four scalar cases and ``null``.
    public var scalar: MLScalar? {
        switch self {
        case .null: return .null
        case .integer(let value): return .integer(value)
        case .numeric(let value): return .numeric(value)
        case .character(let value): return .character(value)
        case .logical(let value): return .logical(value)
        case .vector, .matrix, .dataFrame: return nil
        }
    }

    /// A value holding one scalar.
    public init(_ scalar: MLScalar) {
        switch scalar {
        case .null: self = .null
        case .integer(let value): self = .integer(value)
        case .numeric(let value): self = .numeric(value)
        case .character(let value): self = .character(value)
        case .logical(let value): self = .logical(value)
        }
    }

    /// The number as a double, for ``integer(_:)`` and ``numeric(_:)``.
    public var doubleValue: Double? { self.scalar?.doubleValue }

    /// The whole number, for ``integer(_:)`` (and ``numeric(_:)`` holding an exact whole number).
    public var intValue: Int? { self.scalar?.intValue }

    /// The string, for ``character(_:)``.
    public var stringValue: String? { self.scalar?.stringValue }

    /// The boolean, for ``logical(_:)``.
    public var boolValue: Bool? { self.scalar?.boolValue }

    /// The cells, for ``vector(_:)``.
    public var vectorValue: [MLScalar]? {
        if case .vector(let value) = self { return value }
        return nil
    }

    /// The rows, for ``matrix(_:)``.
    public var matrixValue: [[MLScalar]]? {
        if case .matrix(let value) = self { return value }
        return nil
    }

    /// The table, for ``dataFrame(_:)``.
    public var dataFrameValue: DataFrame? {
        if case .dataFrame(let value) = self { return value }
        return nil
    }

    /// Whether this is ``null``.
    public var isNull: Bool { self == .null }

    /// A short, Python-like rendering for logs and the CLI.
    public var description: String {
        switch self {
        case .vector(let cells): return "[" + cells.map(\.description).joined(separator: ", ") + "]"
        case .matrix(let rows):
            return "[" + rows.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
        case .dataFrame(let frame): return frame.description
        default: return self.scalar!.description
        }
    }
}

extension MLValue: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
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
    /// ``vector(_:)``.
    public init(arrayLiteral elements: MLScalar...) { self = .vector(elements) }
}
