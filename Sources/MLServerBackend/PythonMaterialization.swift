import MLDeploy

/// Turns simple Swift values (``MLDeploy/ServiceObject/value(_:)`` objects) into Python objects in a
/// server's authoring session, so a published service finds them in its namespace exactly as the
/// local Python runtime would make them: `integer` → `int`, `numeric` → `float`, `vector` → a numpy
/// array, `matrix` → a numpy matrix, `data.frame` → a pandas DataFrame.
///
/// The values travel as the execute request's `inputParameters` (JSON); the generated code converts
/// each one in place and removes its helper, so only the objects are left in the workspace.
enum PythonMaterialization {
    /// The conversion, as the Python runtime binds values: `int`, `float`, `str`, `bool`,
    /// `numpy.array`, `numpy.matrix`, and a column-major `pandas.DataFrame`.
    static let decoder = """
        def __mldeploy_decode(kind, value):
            if value is None:
                return None
            if kind == "integer":
                return int(value)
            if kind == "numeric":
                return float(value)
            if kind == "logical":
                return bool(value)
            if kind == "vector":
                import numpy
                same = len({type(v) for v in value}) == 1 and None not in value
                return numpy.array(value) if value and same else numpy.array(value, dtype=object)
            if kind == "matrix":
                import numpy
                return numpy.matrix(value)
            if kind == "data.frame":
                import pandas
                return pandas.DataFrame(value)
            return value

        """

    /// The body of `POST /sessions/{id}/execute` that materializes `values`.
    static func executeRequest(_ values: [(name: String, value: MLValue)]) throws -> JSONValue {
        var code = Self.decoder
        var inputs: [JSONValue] = []
        for (name, value) in values {
            let kind = value.naturalType?.rawValue ?? "character"
            code += "\(name) = __mldeploy_decode(\"\(kind)\", \(name))\n"
            inputs.append(["name": .string(name), "value": try value.jsonValue()])
        }
        code += "del __mldeploy_decode\n"
        return ["code": .string(code), "inputParameters": .array(inputs), "outputParameters": .null]
    }
}
