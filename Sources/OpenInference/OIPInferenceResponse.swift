import MLDeploy

/// An inference response: the model's name and version, the request's id, and the output tensors —
/// in JSON, or as binary data after the JSON for the outputs that asked for it.
public struct OIPInferenceResponse: Sendable {
    /// The model's name.
    public var modelName: String
    /// The model's version.
    public var modelVersion: String?
    /// The request's id, echoed.
    public var id: String?
    /// Response parameters.
    public var parameters: JSONObject
    /// The output tensors.
    public var outputs: [OIPTensor]

    /// Creates a response.
    public init(modelName: String, modelVersion: String?, id: String?, parameters: JSONObject = [:], outputs: [OIPTensor]) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.id = id
        self.parameters = parameters
        self.outputs = outputs
    }

    /// The body: JSON, with the outputs `binary` selects as binary data after it; `headerLength` is
    /// the JSON's length when any output is binary (`Inference-Header-Content-Length`), else `nil`.
    public func encoded(binary: (String) -> Bool) throws -> (body: [UInt8], headerLength: Int?) {
        var object: JSONObject = ["model_name": .string(self.modelName)]
        if let version = self.modelVersion { object["model_version"] = .string(version) }
        if let id = self.id { object["id"] = .string(id) }
        if !self.parameters.isEmpty { object["parameters"] = .object(self.parameters) }
        var tail: [UInt8] = []
        var anyBinary = false
        object["outputs"] = .array(self.outputs.map { output in
            guard binary(output.name) else { return output.json() }
            anyBinary = true
            let bytes = output.binaryData()
            tail.append(contentsOf: bytes)
            return output.json(binarySize: bytes.count)
        })
        let head = try JSONValue.object(object).serializedBytes()
        return anyBinary ? (head + tail, head.count) : (head, nil)
    }

    /// Parses a response body (`headerLength` from `Inference-Header-Content-Length`).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` for a malformed body.
    public init(body: [UInt8], headerLength: Int? = nil) throws {
        let length = headerLength ?? body.count
        guard length >= 0, length <= body.count, let json = try? JSONValue(parsing: Array(body[0..<length])), let object = json.objectValue else {
            throw MLDeployError(code: .invalidArgument, message: "The inference response is not a JSON object: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        self.modelName = object["model_name"]?.stringValue ?? ""
        self.modelVersion = object["model_version"]?.stringValue
        self.id = object["id"]?.stringValue
        self.parameters = object["parameters"]?.objectValue ?? [:]
        var binary = body[length...]
        self.outputs = try (object["outputs"]?.arrayValue ?? []).map { output in
            guard let size = output["parameters"]?["binary_data_size"]?.intValue else { return try OIPTensor(json: output, role: "output") }
            guard binary.count >= size else { throw MLDeployError(code: .invalidArgument, message: "An output declares \(size) bytes of binary data; \(binary.count) remain.") }
            defer { binary = binary.dropFirst(size) }
            return try OIPTensor(json: output, binary: binary.prefix(size), role: "output")
        }
    }
}
