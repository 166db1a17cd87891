import Foundation

extension ServiceInfo {
    /// The version as ML Server's `WebService` object, in the shape the Python SDK requires:
    /// `description` always present (null allowed), parameter lists and `outputFileNames` always
    /// arrays, `creationTime` in the .NET round-trip form.
    public func webServiceJSON() -> JSONValue {
        func parameters(_ list: [ParameterDefinition]) -> JSONValue {
            .array(list.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })
        }
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return [
            "name": .string(self.name),
            "version": .string(self.version),
            "description": optional(self.description),
            "operationId": optional(self.operationID),
            "inputParameterDefinitions": parameters(self.inputs),
            "outputParameterDefinitions": parameters(self.outputs),
            "outputFileNames": .array(self.artifacts.map(JSONValue.string)),
            "runtimeType": .string(self.runtime.rawValue),
            "creationTime": optional(self.creationTime.map(DotNetDate.format)),
            "versionPublishedBy": optional(self.publishedBy),
            "snapshotId": optional(self.snapshotID),
            "code": optional(self.code),
            "initCode": optional(self.initCode),
            "myPermissionOnService": optional(self.permission),
        ]
    }

    /// Reads a `WebService` object as servers send it. `name` and `version` must be strings; a
    /// missing or null parameter list is empty, as is a missing `outputFileNames`.
    ///
    /// - Throws: ``MLDeployError/Code/invalidResponse`` naming what is wrong.
    public init(webServiceJSON json: JSONValue) throws {
        guard case .object = json else {
            throw MLDeployError(code: .invalidResponse, message: "A web service description must be a JSON object.")
        }
        guard let name = json["name"]?.stringValue, let version = json["version"]?.stringValue else {
            throw MLDeployError(code: .invalidResponse, message: "A web service description lacks its name or version.")
        }
        func parameters(_ key: String) throws -> [ParameterDefinition] {
            try (json[key]?.arrayValue ?? []).map { item in
                guard let parameter = item["name"]?.stringValue, let type = item["type"]?.stringValue else {
                    throw MLDeployError(code: .invalidResponse, message: "A parameter in '\(key)' of \(name)/\(version) lacks its name or type.")
                }
                return ParameterDefinition(name: parameter, type: try ParameterType(parsing: type))
            }
        }
        self.init(
            name: name,
            version: version,
            description: json["description"]?.stringValue,
            operationID: json["operationId"]?.stringValue,
            inputs: try parameters("inputParameterDefinitions"),
            outputs: try parameters("outputParameterDefinitions"),
            runtime: RuntimeType(json["runtimeType"]?.stringValue ?? RuntimeType.python.rawValue),
            artifacts: (json["outputFileNames"]?.arrayValue ?? []).compactMap(\.stringValue),
            creationTime: json["creationTime"]?.stringValue.flatMap(DotNetDate.parse),
            publishedBy: json["versionPublishedBy"]?.stringValue,
            snapshotID: json["snapshotId"]?.stringValue,
            code: json["code"]?.stringValue,
            initCode: json["initCode"]?.stringValue,
            permission: json["myPermissionOnService"]?.stringValue
        )
    }
}
