extension ServiceResponse {
    /// The response as ML Server's `WebServiceResult`: `success`,
    /// `errorMessage` (empty on success), `consoleOutput`, `changedFiles`, and `outputParameters` and
    /// `outputFiles` always as objects (artifacts base64-encoded).
    public func webServiceResultJSON() -> JSONValue {
        var files = JSONObject()
        for name in self.rawArtifacts.keys.sorted() {
            files.append(name, .string(self.rawArtifacts[name]!))
        }
        return [
            "success": .bool(self.success),
            "errorMessage": .string(self.errorMessage ?? ""),
            "consoleOutput": .string(self.consoleOutput),
            "changedFiles": .array(self.changedFiles.map(JSONValue.string)),
            "outputParameters": .object(self.rawOutputs),
            "outputFiles": .object(files),
        ]
    }

    /// Reads a `WebServiceResult` for `service`, typing its outputs by the service's output schema.
    /// A failed call (`success: false`) keeps its error message and console output.
    ///
    /// - Throws: ``MLDeployError/Code/invalidResponse`` when the object is not a result, or an
    ///   output cannot be its declared type.
    public init(webServiceResultJSON json: JSONValue, service: ServiceInfo) throws {
        guard case .object = json else {
            throw MLDeployError(code: .invalidResponse, message: "The result of \(service.name)/\(service.version) is not a JSON object.")
        }
        let success = json["success"]?.boolValue ?? true
        let rawOutputs = json["outputParameters"]?.objectValue ?? JSONObject()
        var outputs: [String: MLValue] = [:]
        if success {
            for definition in service.outputs {
                guard let value = rawOutputs[definition.name] else { continue }
                do {
                    outputs[definition.name] = try MLValue(json: value, as: definition.type, parameter: definition.name, direction: .output)
                } catch let error as MLDeployError {
                    throw MLDeployError(code: .invalidResponse, message: "Output '\(definition.name)' of \(service.name)/\(service.version): \(error.message)")
                }
            }
        }
        var artifacts: [String: String] = [:]
        for member in json["outputFiles"]?.objectValue ?? JSONObject() {
            if let text = member.value.stringValue { artifacts[member.key] = text }
        }
        let message = json["errorMessage"]?.stringValue
        self.init(
            api: service.apiPath,
            success: success,
            errorMessage: success ? nil : (message?.isEmpty == false ? message : "The service reported a failure without a message."),
            consoleOutput: json["consoleOutput"]?.stringValue ?? "",
            changedFiles: (json["changedFiles"]?.arrayValue ?? []).compactMap(\.stringValue),
            outputs: outputs,
            outputSchema: service.outputs,
            rawOutputs: rawOutputs,
            rawArtifacts: artifacts
        )
    }
}
