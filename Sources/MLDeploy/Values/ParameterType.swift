/// One of the seven ML Server parameter types a service declares for its inputs and outputs.
///
/// The raw value is the exact wire spelling (`"data.frame"` for ``dataFrame``). ``init(parsing:)``
/// also accepts the Python SDK's spellings (`int`, `float`, `str`, `bool`, `numpy.array`,
/// `numpy.matrix`, `pandas.DataFrame`, …) so service manifests written for the Python SDK work as is.
public enum ParameterType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A whole number. Wire: a JSON integer. Python: `int`.
    case integer
    /// A floating-point number. Wire: a JSON number, always with a fraction. Python: `float`.
    case numeric
    /// A string. Wire: a JSON string. Python: `str`.
    case character
    /// A boolean. Wire: `true`/`false`. Python: `bool`.
    case logical
    /// A one-dimensional array of scalars. Wire: a JSON array. Python: `numpy.array`.
    case vector
    /// A two-dimensional array, row-major, all rows the same length. Wire: an array of arrays.
    /// Python: `numpy.matrix`.
    case matrix
    /// A table. Wire: a column-major object `{"column": [cells…]}`, column order kept.
    /// Python: `pandas.DataFrame`.
    case dataFrame = "data.frame"

    /// The wire spelling.
    public var description: String { self.rawValue }

    /// The Python type the SDK maps this type to (`EncodingType.to_python`), e.g. `"numpy.array"`.
    public var pythonName: String {
        switch self {
        case .integer: return "int"
        case .numeric: return "float"
        case .character: return "str"
        case .logical: return "bool"
        case .vector: return "numpy.array"
        case .matrix: return "numpy.matrix"
        case .dataFrame: return "pandas.DataFrame"
        }
    }

    /// Every spelling ``init(parsing:)`` accepts, wire names first.
    public static let acceptedSpellings: [String] = [
        "integer", "numeric", "character", "logical", "vector", "matrix", "data.frame",
        "int", "float", "str", "bool", "array", "numpy.array", "list", "numpy.matrix", "DataFrame", "pandas.DataFrame",
    ]

    /// Reads a type from its wire spelling or a Python spelling.
    ///
    /// Accepts the wire names and exactly the Python spellings the SDK's `EncodingType.from_python`
    /// maps: `int`, `float`, `str`, `bool`, `array`/`numpy.array`/`list`, `matrix`/`numpy.matrix`,
    /// `DataFrame`/`pandas.DataFrame`. `numpy.ndarray` is refused, as the Python SDK refuses it.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/unknownParameterType`` listing the
    ///   accepted spellings.
    public init(parsing spelling: String) throws {
        switch spelling {
        case "integer", "int": self = .integer
        case "numeric", "float": self = .numeric
        case "character", "str": self = .character
        case "logical", "bool": self = .logical
        case "vector", "array", "numpy.array", "list": self = .vector
        case "matrix", "numpy.matrix": self = .matrix
        case "data.frame", "DataFrame", "pandas.DataFrame": self = .dataFrame
        default:
            throw MLDeployError(
                code: .unknownParameterType,
                message: "Unknown parameter type '\(spelling)'. Use one of: \(Self.acceptedSpellings.joined(separator: ", "))."
            )
        }
    }
}

/// A named, typed input or output of a service (`{"name": "hp", "type": "numeric"}` on the wire).
public struct ParameterDefinition: Sendable, Hashable, CustomStringConvertible {
    /// The parameter's name; a Python identifier, since the Python runtime binds it as a variable.
    public var name: String
    /// The parameter's type.
    public var type: ParameterType

    /// Creates a definition.
    public init(name: String, type: ParameterType) {
        self.name = name
        self.type = type
    }

    /// `name: type`.
    public var description: String { "\(self.name): \(self.type)" }
}
