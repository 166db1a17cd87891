import Foundation

extension ServiceDefinition {
    /// The option keys ``init(name:options:)`` accepts: the Python SDK's `deploy_service` keywords.
    public static let optionKeys = [
        "version", "description", "alias", "code_str", "init_str", "inputs", "outputs", "artifacts", "objects", "models",
    ]

    /// Creates a definition from a Python-style options dictionary — the keyword arguments of
    /// `deploy_service(name, **opts)`:
    ///
    /// ```swift
    /// let definition = try ServiceDefinition(name: "AllTypes", options: [
    ///     "version": "1.0",
    ///     "code_str": "answer = x * 2",
    ///     "inputs": ["x": "float"],
    ///     "outputs": ["answer": "float"],
    /// ])
    /// ```
    ///
    /// `inputs`/`outputs` are objects from name to type spelling (wire or Python spelling), in call
    /// order; `artifacts` is an array of file names; `objects`/`models` map names to simple JSON values
    /// (serialized Python blobs need ``ServiceObject/pickled(_:)`` through the builder). `null` values
    /// mean "not given", as `None` does in Python.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArgument`` or
    ///   ``MLDeployError/Code/unknownParameterType``) naming the offending key.
    public init(name: String, options: JSONObject) throws {
        self.init(name: name)
        for member in options where !member.value.isNull {
            let key = member.key, value = member.value
            switch key {
            case "version": self.version = try Self.string(value, key)
            case "description": self.description = try Self.string(value, key)
            case "alias": self.alias = try Self.string(value, key)
            case "code_str": self.code = try Self.string(value, key)
            case "init_str": self.initCode = try Self.string(value, key)
            case "inputs": self.inputs = try Self.parameters(value, key)
            case "outputs": self.outputs = try Self.parameters(value, key)
            case "artifacts":
                guard let names = value.arrayValue?.compactMap(\.stringValue), names.count == value.arrayValue?.count else {
                    throw MLDeployError.invalidArgument("Option 'artifacts' must be an array of file names.")
                }
                self.artifacts = names
            case "objects": self.objects = try Self.objects(value, key)
            case "models": self.models = try Self.objects(value, key)
            default:
                throw MLDeployError.invalidArgument(
                    "Unknown service option '\(key)'. Known options: \(Self.optionKeys.joined(separator: ", "))."
                )
            }
        }
    }

    private static func string(_ value: JSONValue, _ key: String) throws -> String {
        guard let text = value.stringValue else {
            throw MLDeployError.invalidArgument("Option '\(key)' must be a string, not \(value.typeName).")
        }
        return text
    }

    private static func parameters(_ value: JSONValue, _ key: String) throws -> [ParameterDefinition] {
        guard let object = value.objectValue else {
            throw MLDeployError.invalidArgument("Option '\(key)' must be an object from parameter name to type, not \(value.typeName).")
        }
        return try object.map { member in
            guard let spelling = member.value.stringValue else {
                throw MLDeployError.invalidArgument("The type of \(key) '\(member.key)' must be a string such as \"float\".")
            }
            do {
                return ParameterDefinition(name: member.key, type: try ParameterType(parsing: spelling))
            } catch var error as MLDeployError {
                error.message = "Invalid `encoding` type \"\(spelling)\" for \"\(member.key)\". " + error.message
                throw error
            }
        }
    }

    private static func objects(_ value: JSONValue, _ key: String) throws -> [String: ServiceObject] {
        guard let object = value.objectValue else {
            throw MLDeployError.invalidArgument("Option '\(key)' must be an object from name to value.")
        }
        var objects: [String: ServiceObject] = [:]
        for member in object {
            guard let materialized = MLValue(untypedJSON: member.value) else {
                throw MLDeployError.invalidArgument(
                    "\(key) '\(member.key)' is not a simple value; serialized Python objects need ServiceObject.pickled."
                )
            }
            objects[member.key] = .value(materialized)
        }
        return objects
    }
}
