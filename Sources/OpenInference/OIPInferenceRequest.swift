import MLDeploy

/// An inference request (`POST /v2/models/{name}[/versions/{version}]/infer`): JSON, optionally
/// followed by binary tensor data (the binary data extension, whose
/// `Inference-Header-Content-Length` header says where the JSON ends).
public struct OIPInferenceRequest: Sendable {
    /// An output the caller asks for, and how (`binary_data`).
    public struct RequestedOutput: Sendable, Hashable {
        /// The output's name.
        public var name: String
        /// Its parameters (`binary_data: true` asks for binary data).
        public var parameters: JSONObject

        /// Creates a requested output.
        public init(name: String, parameters: JSONObject = [:]) {
            self.name = name
            self.parameters = parameters
        }
    }

    /// The request's id, echoed in the response.
    public var id: String?
    /// Request parameters (`binary_data_output`, …).
    public var parameters: JSONObject
    /// The input tensors.
    public var inputs: [OIPTensor]
    /// The outputs asked for (all of the model's when empty).
    public var outputs: [RequestedOutput]

    /// Creates a request.
    public init(id: String? = nil, parameters: JSONObject = [:], inputs: [OIPTensor], outputs: [RequestedOutput] = []) {
        self.id = id
        self.parameters = parameters
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Parses a request body. `headerLength` is `Inference-Header-Content-Length`: the JSON's
    /// length, the binary tensor data after it; `nil` when the body is JSON alone.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming what is malformed: the JSON,
    ///   a tensor, or binary data that does not add up to the sizes the tensors declare.
    public init(body: [UInt8], headerLength: Int? = nil) throws {
        let length = headerLength ?? body.count
        guard length >= 0, length <= body.count else {
            throw MLDeployError(code: .invalidArgument, message: "Inference-Header-Content-Length is \(length), but the body has \(body.count) bytes.")
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Array(body[0..<length]))
        } catch {
            throw MLDeployError(code: .invalidArgument, message: "The inference request is not valid JSON: \(error). Send {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}.")
        }
        guard let object = json.objectValue else { throw MLDeployError(code: .invalidArgument, message: "The inference request must be a JSON object with \"inputs\".") }
        switch object["id"] {
        case nil, .null?: self.id = nil
        case .string(let id)?: self.id = id
        default: throw MLDeployError(code: .invalidArgument, message: "The request's \"id\" must be a string.")
        }
        self.parameters = object["parameters"]?.objectValue ?? [:]
        guard let inputs = object["inputs"]?.arrayValue else {
            throw MLDeployError(code: .invalidArgument, message: "The inference request has no \"inputs\" array.")
        }
        var binary = body[length...]
        self.inputs = try inputs.map { input in
            guard let size = input["parameters"]?["binary_data_size"] else { return try OIPTensor(json: input) }
            guard let size = size.intValue, size >= 0 else {
                throw MLDeployError(code: .invalidArgument, message: "Input '\(input["name"]?.stringValue ?? "?")' has a binary_data_size that is not a byte count.")
            }
            guard binary.count >= size else {
                throw MLDeployError(
                    code: .invalidArgument,
                    message: "Input '\(input["name"]?.stringValue ?? "?")' declares \(size) bytes of binary data, but only \(binary.count) remain in the body. Send Inference-Header-Content-Length with the JSON's length."
                )
            }
            defer { binary = binary.dropFirst(size) }
            return try OIPTensor(json: input, binary: binary.prefix(size))
        }
        guard binary.isEmpty else {
            throw MLDeployError(code: .invalidArgument, message: "The body has \(binary.count) bytes after the JSON that no input's binary_data_size accounts for.")
        }
        self.outputs = try (object["outputs"]?.arrayValue ?? []).map { output in
            guard let name = output["name"]?.stringValue else { throw MLDeployError(code: .invalidArgument, message: "Each requested output needs a \"name\".") }
            return RequestedOutput(name: name, parameters: output["parameters"]?.objectValue ?? [:])
        }
    }

    /// Whether output `name` is to be sent as binary data: its own `binary_data` parameter, else
    /// the request's `binary_data_output`.
    public func wantsBinary(_ name: String) -> Bool {
        if let requested = self.outputs.first(where: { $0.name == name }), let binary = requested.parameters["binary_data"]?.boolValue {
            return binary
        }
        return self.parameters["binary_data_output"]?.boolValue ?? false
    }

    /// The request's body, inputs in JSON, or — with `binary` — as binary data after the JSON;
    /// `headerLength` is then the JSON's length (`Inference-Header-Content-Length`).
    public func encoded(binary: Bool) throws -> (body: [UInt8], headerLength: Int?) {
        var object: JSONObject = [:]
        if let id = self.id { object["id"] = .string(id) }
        if !self.parameters.isEmpty { object["parameters"] = .object(self.parameters) }
        var tail: [UInt8] = []
        object["inputs"] = .array(self.inputs.map { input in
            guard binary else { return input.json() }
            let bytes = input.binaryData()
            tail.append(contentsOf: bytes)
            return input.json(binarySize: bytes.count)
        })
        if !self.outputs.isEmpty {
            object["outputs"] = .array(self.outputs.map { output in
                var entry: JSONObject = ["name": .string(output.name)]
                if !output.parameters.isEmpty { entry["parameters"] = .object(output.parameters) }
                return .object(entry)
            })
        }
        let head = try JSONValue.object(object).serializedBytes()
        return binary ? (head + tail, head.count) : (head, nil)
    }
}
