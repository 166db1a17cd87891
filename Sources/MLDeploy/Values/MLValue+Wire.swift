import Foundation

/// Why a value does not fit a declared type; turned into an ``MLDeployError`` by whoever knows
/// whether the value was an input or an output.
enum ValueProblem: Error {
    case wrongType(expected: ParameterType, got: String)
    case notFinite(Double)
    case ragged(String)

    func error(parameter: String, direction: ParameterDirection, service: String?) -> MLDeployError {
        let subject = "\(direction.rawValue.capitalized) '\(parameter)'" + (service.map { " of service '\($0)'" } ?? "")
        switch self {
        case .wrongType(let expected, let got):
            let code: MLDeployError.Code = direction == .input ? .inputMismatch : .outputMismatch
            let fix =
                direction == .input
                ? "Pass \(expected.jsonForms)."
                : "Make the service produce a \(expected) value, or change the declared output type."
            return MLDeployError(
                code: code,
                message: "\(subject) is declared \(expected) but got \(got). \(fix)"
            )
        case .notFinite(let number):
            return .invalidValue("\(subject) contains \(number); only finite numbers can be sent.")
        case .ragged(let detail):
            return .invalidValue("\(subject): \(detail).")
        }
    }
}

/// Whether a value is a service's input or its output. Decoding reports a value that does not fit
/// its declared type as ``MLDeployError/Code/inputMismatch`` (the caller must pass something else)
/// or ``MLDeployError/Code/outputMismatch`` (the service must produce something else).
public enum ParameterDirection: String, Sendable {
    /// A value given to a service.
    case input
    /// A value a service produced.
    case output
}

extension ParameterType {
    /// The JSON forms a value of this type is accepted in, for messages that tell a caller what to
    /// pass.
    public var jsonForms: String {
        switch self {
        case .integer: return "a whole number (e.g. 3)"
        case .numeric: return "a number (e.g. 2.5)"
        case .character: return "a JSON string (e.g. \"text\")"
        case .logical: return "true or false"
        case .vector: return "an array of numbers, strings or booleans (e.g. [1, 2])"
        case .matrix: return "an array of equal-length arrays (e.g. [[1, 2], [3, 4]])"
        case .dataFrame: return #"an object of equal-length columns (e.g. {"a": [1, 2]}) or an array of row objects (e.g. [{"a": 1}])"#
        }
    }
}

extension MLValue {
    /// A short description of this value's shape for error messages: `numeric 2.5`, `vector of 3`.
    var shapeDescription: String {
        switch self {
        case .null: return "null"
        case .integer(let value): return "integer \(value)"
        case .numeric(let value): return "numeric \(value)"
        case .character: return "character"
        case .logical: return "logical"
        case .vector(let cells): return "vector of \(cells.count)"
        case .matrix(let rows): return "matrix of \(rows.count) rows"
        case .dataFrame(let frame): return "data.frame of \(frame.rowCount) rows"
        }
    }

    /// This value converted to `type` where that loses nothing (an integer where a numeric is declared,
    /// a whole-valued numeric where an integer is declared); otherwise a ``ValueProblem``.
    func coerced(to type: ParameterType) throws(ValueProblem) -> MLValue {
        switch (type, self) {
        case (_, .null):
            return .null
        case (.integer, .integer):
            return self
        case (.integer, .numeric(let number)):
            guard let whole = Int(exactly: number) else { throw .wrongType(expected: .integer, got: self.shapeDescription) }
            return .integer(whole)
        case (.numeric, .integer(let number)):
            return .numeric(Double(number))
        case (.numeric, .numeric(let number)):
            guard number.isFinite else { throw .notFinite(number) }
            return self
        case (.character, .character), (.logical, .logical):
            return self
        case (.vector, .vector(let cells)):
            try Self.checkFinite(cells)
            return self
        case (.matrix, .matrix(let rows)):
            if let width = rows.first?.count, rows.contains(where: { $0.count != width }) {
                throw .ragged("matrix rows differ in length; every row must have \(width) cells")
            }
            for row in rows { try Self.checkFinite(row) }
            return self
        case (.dataFrame, .dataFrame(let frame)):
            for column in frame.columns { try Self.checkFinite(column.values) }
            return self
        default:
            throw .wrongType(expected: type, got: self.shapeDescription)
        }
    }

    private static func checkFinite(_ cells: [MLScalar]) throws(ValueProblem) {
        for cell in cells {
            if case .numeric(let number) = cell, !number.isFinite { throw .notFinite(number) }
        }
    }

    /// This value as JSON in its natural encoding: integers as JSON integers, numerics as
    /// JSON numbers with a fraction, vectors and matrices as arrays, data frames column-major.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) for NaN or infinity.
    public func jsonValue() throws -> JSONValue {
        switch self {
        case .vector(let cells): return .array(try cells.map { try $0.jsonValue() })
        case .matrix(let rows): return .array(try rows.map { .array(try $0.map { try $0.jsonValue() }) })
        case .dataFrame(let frame):
            var object = JSONObject()
            for column in frame.columns {
                object.append(column.name, .array(try column.values.map { try $0.jsonValue() }))
            }
            return .object(object)
        default:
            return try self.scalar!.jsonValue()
        }
    }

    /// This value encoded as the declared `type` requires on the wire, as the SDK's `cast_from_python`
    /// does: an integer becomes `120.0` where `numeric` is declared, and so on.
    ///
    /// - Throws: ``MLDeployError`` with ``MLDeployError/Code/inputMismatch`` if the value does not fit
    ///   the type, or ``MLDeployError/Code/invalidValue`` for NaN, infinity or a ragged matrix.
    public func json(as type: ParameterType, parameter: String = "value") throws -> JSONValue {
        let value: MLValue
        do throws(ValueProblem) {
            value = try self.coerced(to: type)
        } catch {
            throw error.error(parameter: parameter, direction: .input, service: nil)
        }
        return try value.jsonValue()
    }

    /// Decodes a wire value of a declared type.
    ///
    /// Accepts what ML Server and the Python runtime produce: JSON integers (and whole-valued numbers)
    /// for `integer`, any number for `numeric`, arrays of scalars for `vector`, rectangular arrays of
    /// arrays for `matrix`, and for `data.frame` either the column-major object or a list of row
    /// objects (pandas accepts both). `null` is accepted for every type.
    ///
    /// - Parameters:
    ///   - direction: Whether the value is an input (a caller's value: a mismatch is
    ///     ``MLDeployError/Code/inputMismatch``, naming the accepted forms) or an output (a service's
    ///     value: ``MLDeployError/Code/outputMismatch``). Code that reads what a caller sent — a
    ///     server's consume route, a CLI's arguments, batch records — must say `.input`.
    /// - Throws: ``MLDeployError`` with ``MLDeployError/Code/inputMismatch`` or
    ///   ``MLDeployError/Code/outputMismatch`` when the JSON does not have the declared type's shape.
    public init(json: JSONValue, as type: ParameterType, parameter: String = "value", direction: ParameterDirection) throws {
        do throws(ValueProblem) {
            self = try Self.decode(json, as: type)
        } catch {
            throw error.error(parameter: parameter, direction: direction, service: nil)
        }
    }

    static func decode(_ json: JSONValue, as type: ParameterType) throws(ValueProblem) -> MLValue {
        if json.isNull { return .null }
        switch type {
        case .integer:
            guard let number = json.intValue else { throw .wrongType(expected: type, got: json.typeName) }
            return .integer(number)
        case .numeric:
            guard let number = json.doubleValue else { throw .wrongType(expected: type, got: json.typeName) }
            return .numeric(number)
        case .character:
            guard let text = json.stringValue else { throw .wrongType(expected: type, got: json.typeName) }
            return .character(text)
        case .logical:
            guard let flag = json.boolValue else { throw .wrongType(expected: type, got: json.typeName) }
            return .logical(flag)
        case .vector:
            guard let elements = json.arrayValue else { throw .wrongType(expected: type, got: json.typeName) }
            return .vector(try Self.cells(elements, expected: type))
        case .matrix:
            guard let rows = json.arrayValue else { throw .wrongType(expected: type, got: json.typeName) }
            var matrix: [[MLScalar]] = []
            matrix.reserveCapacity(rows.count)
            for row in rows {
                guard let cells = row.arrayValue else { throw .wrongType(expected: type, got: "an array of \(row.typeName)") }
                matrix.append(try Self.cells(cells, expected: type))
            }
            return try MLValue.matrix(matrix).coerced(to: .matrix)
        case .dataFrame:
            return .dataFrame(try Self.decodeFrame(json))
        }
    }

    private static func cells(_ elements: [JSONValue], expected: ParameterType) throws(ValueProblem) -> [MLScalar] {
        var cells: [MLScalar] = []
        cells.reserveCapacity(elements.count)
        for element in elements {
            guard let cell = MLScalar(json: element) else { throw .wrongType(expected: expected, got: "an array containing \(element.typeName)") }
            cells.append(cell)
        }
        return cells
    }

    private static func decodeFrame(_ json: JSONValue) throws(ValueProblem) -> DataFrame {
        switch json {
        case .object(let object):
            var columns: [DataFrame.Column] = []
            columns.reserveCapacity(object.count)
            for member in object {
                guard let elements = member.value.arrayValue else {
                    throw .wrongType(expected: .dataFrame, got: "column '\(member.key)' holding \(member.value.typeName)")
                }
                columns.append(DataFrame.Column(name: member.key, values: try Self.cells(elements, expected: .dataFrame)))
            }
            do {
                return try DataFrame(columns: columns)
            } catch {
                throw .ragged("data frame columns differ in length")
            }
        case .array(let rows):
            // A list of row objects, as `DataFrame.to_dict('records')` writes.
            var order: [String] = []
            var seen = Set<String>()
            var parsed: [[String: MLScalar]] = []
            for row in rows {
                guard let object = row.objectValue else { throw .wrongType(expected: .dataFrame, got: "an array containing \(row.typeName)") }
                var cells: [String: MLScalar] = [:]
                for member in object {
                    guard let cell = MLScalar(json: member.value) else {
                        throw .wrongType(expected: .dataFrame, got: "a row whose '\(member.key)' is \(member.value.typeName)")
                    }
                    cells[member.key] = cell
                    if seen.insert(member.key).inserted { order.append(member.key) }
                }
                parsed.append(cells)
            }
            do {
                return try DataFrame(rows: parsed, columnOrder: order)
            } catch {
                throw .ragged("data frame rows could not be assembled")
            }
        default:
            throw .wrongType(expected: .dataFrame, got: json.typeName)
        }
    }

    /// Reads JSON whose type is not declared, choosing the closest value: scalars map one to one, an
    /// array of scalars is a vector, a rectangular array of arrays a matrix, an object of equal-length
    /// arrays a data frame. Returns `nil` for anything else.
    public init?(untypedJSON json: JSONValue) {
        switch json {
        case .null, .bool, .integer, .double, .string:
            self = MLValue(MLScalar(json: json)!)
        case .array(let elements):
            if elements.allSatisfy({ $0.arrayValue != nil }), !elements.isEmpty,
                let value = try? Self.decode(json, as: .matrix)
            {
                self = value
            } else if let value = try? Self.decode(json, as: .vector) {
                self = value
            } else {
                return nil
            }
        case .object:
            guard let value = try? Self.decode(json, as: .dataFrame) else { return nil }
            self = value
        }
    }
}
