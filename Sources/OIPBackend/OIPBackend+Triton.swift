import Foundation
import MLDeploy
import MLDeployHTTP
import OpenInference

/// Publishing to NVIDIA Triton: `POST /v2/repository/models/{name}/load` with the model's
/// configuration (`config`) and its files (`file:<version>/<path>`, base64) in the request, run by
/// Triton's Python backend with the runtime in ``TritonRuntime``. Nothing is written on the
/// server's disk by this process, so Triton needs no shared directory.
///
/// Triton versions are numbers; each MLDeploy version gets the next one, and the configuration's
/// `mldeploy` parameter maps them back (with the description, alias, declared parameters and code).
/// A load replaces the model with exactly what the request carries, so every load sends every
/// version: each version's files are kept, base64, in a configuration parameter of their own
/// (`mldeploy_files_<n>`) to be sent again — Triton has no way to read a model's files back. Changes
/// to one model are serialized within this process (``ModelLocks``); two processes publishing to
/// the same model at the same moment can still lose one of the versions.
extension OIPBackend {
    /// What the configuration of a model this backend published to Triton records.
    struct TritonModel {
        /// Each version's record, by Triton's version number.
        var versions: [Int: JSONValue] = [:]
        /// Each version's files (base64 by path), by Triton's version number.
        var files: [Int: JSONValue] = [:]

        /// Triton's number for an MLDeploy version.
        func number(of version: String) -> Int? {
            self.versions.first { $0.value["version"]?.stringValue == version }?.key
        }

        /// Each version's service metadata, the one published last at the end.
        func published(_ name: String) -> [(info: ServiceInfo, published: Double)] {
            self.versions.values.compactMap { record in
                record["version"]?.stringValue.map { (OIPBackend.publishedInfo(name: name, version: $0, record: record), record["published"]?.doubleValue ?? 0) }
            }.sorted { $0.published < $1.published }
        }
    }

    /// The model's configuration as this backend recorded it; `nil` for an unknown model or one
    /// this backend did not publish.
    func tritonModel(_ name: String) async throws -> TritonModel? {
        let config: JSONValue
        do {
            config = try await self.json(.get, Self.modelPath(name, nil) + "/config")
        } catch let error as MLDeployError where error.code == .notFound || error.code == .invalidArgument {
            return nil
        }
        let parameters = config["parameters"]
        guard let text = parameters?["mldeploy"]?["string_value"]?.stringValue,
              let versions = (try? JSONValue(parsing: Array(text.utf8)))?["versions"]?.objectValue else { return nil }
        var model = TritonModel()
        for member in versions {
            guard let number = Int(member.key) else { continue }
            model.versions[number] = member.value
            if let files = parameters?["mldeploy_files_\(number)"]?["string_value"]?.stringValue {
                model.files[number] = try? JSONValue(parsing: Array(files.utf8))
            }
        }
        return model
    }

    /// A version's record and files, when this backend published it to Triton.
    func tritonStored(_ name: String, version: String?) async throws -> StoredVersion? {
        guard let version, let model = try await self.tritonModel(name), let number = model.number(of: version), let record = model.versions[number] else { return nil }
        let files = model.files[number]
        return StoredVersion(info: Self.publishedInfo(name: name, version: version, record: record)) { path in
            files?[path]?.stringValue.flatMap { Data(base64Encoded: $0) }
        }
    }

    /// Adds (or replaces) one version and loads the model with every version it has; returns the
    /// version's metadata as recorded in the configuration just loaded (not read back: under
    /// concurrent publishing, a read right after the load saw another writer's configuration).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/conflict`` when the version exists (and `replacing`
    ///   is false) or a model of that name that this backend did not publish is loaded;
    ///   ``MLDeploy/MLDeployError/Code/notFound`` when replacing a version that does not exist; the
    ///   server's error when it refuses the load (the model is then loaded as it was).
    func tritonPublish(
        _ name: String, version: String, record: JSONObject, inputs: [OIPTensorMetadata], outputs: [OIPTensorMetadata], files: [String: Data], replacing: Bool
    ) async throws -> ServiceInfo {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        return try await self.modelLocks.withLock(name) {
            return try await self.tritonChange(name, version: version, record: record, inputs: inputs, outputs: outputs, files: files, replacing: replacing)
        }
    }

    private func tritonChange(
        _ name: String, version: String, record: JSONObject, inputs: [OIPTensorMetadata], outputs: [OIPTensorMetadata], files: [String: Data], replacing: Bool
    ) async throws -> ServiceInfo {
        let before = try await self.tritonModel(name)
        if before == nil, (try? await self.json(.get, Self.modelPath(name, nil))) != nil {
            throw MLDeployError(code: .conflict, message: "Triton already serves a model named \(name) that MLDeploy did not publish; publish under another name.")
        }
        var model = before ?? TritonModel()
        let existing = model.number(of: version)
        if existing != nil, !replacing { throw MLDeployError(code: .conflict, message: "\(name)/\(version) already exists on the server; publish another version or update this one.") }
        if existing == nil, replacing { throw MLDeployError.serviceNotFound(name: name, version: version) }
        let number = existing ?? (model.versions.keys.max() ?? 0) + 1
        var record = record
        record["version"] = .string(version)
        record["published"] = .double(Date().timeIntervalSince1970)
        record["tensors"] = ["inputs": .array(inputs.map(\.json)), "outputs": .array(outputs.map(\.json))]
        model.versions[number] = .object(record)
        model.files[number] = .object(JSONObject(members: files.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .string($0.value.base64EncodedString())) }))
        do {
            try await self.tritonLoad(name, model)
        } catch {
            // Put back what was served before (or nothing).
            if let before { try? await self.tritonLoad(name, before) } else { _ = try? await self.tritonLoad(name, TritonModel()) }
            throw error
        }
        return Self.publishedInfo(name: name, version: version, record: .object(record))
    }

    /// Removes one version; the model is loaded with the versions that remain, or unloaded.
    func tritonDelete(_ name: String, version: String) async throws {
        try await self.modelLocks.withLock(name) {
            guard var model = try await self.tritonModel(name), let number = model.number(of: version) else {
                throw MLDeployError.serviceNotFound(name: name, version: version)
            }
            model.versions[number] = nil
            model.files[number] = nil
            try await self.tritonLoad(name, model)
        }
    }

    /// Loads the model with exactly these versions (unloads it when there are none).
    private func tritonLoad(_ name: String, _ model: TritonModel) async throws {
        let path = "/v2/repository/models/\(Self.component(name))"
        guard !model.versions.isEmpty else {
            try await self.send(.post, path + "/unload", body: Array("{}".utf8))
            return
        }
        // One configuration serves every version: the union of their tensors (the newest's
        // declaration of a name wins), each optional, so a version is called with its own.
        var inputs: [String: OIPTensorMetadata] = [:], outputs: [String: OIPTensorMetadata] = [:]
        var inputOrder: [String] = [], outputOrder: [String] = []
        for number in model.versions.keys.sorted() {
            let tensors = model.versions[number]?["tensors"]
            for tensor in (tensors?["inputs"]?.arrayValue ?? []).compactMap(OIPTensorMetadata.init(json:)) {
                if inputs.updateValue(tensor, forKey: tensor.name) == nil { inputOrder.append(tensor.name) }
            }
            for tensor in (tensors?["outputs"]?.arrayValue ?? []).compactMap(OIPTensorMetadata.init(json:)) {
                if outputs.updateValue(tensor, forKey: tensor.name) == nil { outputOrder.append(tensor.name) }
            }
        }
        func entry(_ tensor: OIPTensorMetadata, optional: Bool) -> JSONValue {
            var object: JSONObject = [
                "name": .string(tensor.name), "data_type": .string("TYPE_" + (tensor.datatype == .bytes ? "STRING" : tensor.datatype.rawValue)),
                "dims": .array((tensor.shape.isEmpty ? [1] : tensor.shape).map { .integer($0) }),
            ]
            if optional { object["optional"] = true }
            return .object(object)
        }
        func text(_ value: JSONValue) throws -> JSONValue { .string(String(decoding: try value.serializedBytes(), as: UTF8.self)) }
        let records = JSONObject(members: model.versions.keys.sorted().map { .init(key: String($0), value: model.versions[$0]!) })
        var parameters: JSONObject = ["mldeploy": ["string_value": try text(["versions": .object(records)])]]
        var body = JSONObject()
        let runtime = JSONValue.string(Data(TritonRuntime.model(pythonPath: self.pythonPath).utf8).base64EncodedString())
        for number in model.versions.keys.sorted() {
            body["file:\(number)/model.py"] = runtime
            guard let files = model.files[number] else { continue }
            parameters["mldeploy_files_\(number)"] = ["string_value": try text(files)]
            for file in files.objectValue ?? [:] { body["file:\(number)/\(file.key)"] = file.value }
        }
        let config: JSONObject = [
            "name": .string(name), "backend": "python", "max_batch_size": 0,
            "version_policy": ["specific": ["versions": .array(model.versions.keys.sorted().map { .integer($0) })]],
            "input": .array(inputOrder.map { entry(inputs[$0]!, optional: true) }),
            "output": .array(outputOrder.map { entry(outputs[$0]!, optional: false) }),
            "parameters": .object(parameters),
        ]
        body["config"] = try text(.object(config))
        try await self.send(.post, path + "/load", body: try JSONValue.object(["parameters": .object(body)]).serializedBytes())
    }

    /// A Python service's inputs as Triton takes them: each one `BYTES` element of the value's JSON.
    static func tritonInputs(_ inputs: [String: MLValue], for info: ServiceInfo) throws -> [OIPTensor] {
        try info.inputs.map { parameter in
            let json = try (inputs[parameter.name] ?? .null).json(as: parameter.type, parameter: parameter.name)
            return OIPTensor(name: parameter.name, datatype: .bytes, shape: [1], elements: .bytes([try json.serializedBytes()]))
        }
    }

    /// A Python service's outputs, console output and artifacts from Triton's answer.
    static func tritonOutputs(_ tensors: [OIPTensor], for info: ServiceInfo) throws -> (outputs: [String: MLValue], console: String, artifacts: [String: Data]) {
        func text(_ name: String) -> String? {
            guard let tensor = tensors.first(where: { $0.name == name }), case .bytes(let cells) = tensor.elements, let first = cells.first else { return nil }
            return String(decoding: first, as: UTF8.self)
        }
        var outputs: [String: MLValue] = [:]
        for parameter in info.outputs {
            guard let encoded = text(parameter.name), let json = try? JSONValue(parsing: Array(encoded.utf8)) else {
                throw MLDeployError(code: .outputMismatch, message: "\(info.name)/\(info.version) answered no JSON output \(parameter.name).")
            }
            outputs[parameter.name] = try MLValue(json: json, as: parameter.type, parameter: parameter.name, direction: .output)
        }
        var artifacts: [String: Data] = [:]
        for member in text(TritonRuntime.artifactsOutput).flatMap({ try? JSONValue(parsing: Array($0.utf8)).objectValue }) ?? [:] {
            if let encoded = member.value.stringValue, let data = Data(base64Encoded: encoded) { artifacts[member.key] = data }
        }
        return (outputs, text(TritonRuntime.consoleOutput) ?? "", artifacts)
    }
}

/// A published version's metadata and a way to read its files back (from MLServer's repository
/// folder, or from what the Triton model's configuration keeps).
struct StoredVersion {
    /// The version's service metadata.
    let info: ServiceInfo
    /// The bytes of one of the version's files, by its path in the version.
    let file: (String) -> Data?
}
