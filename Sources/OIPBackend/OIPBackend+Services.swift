import Foundation
import MLDeploy
import MLDeployHTTP
import OpenInference
import Synchronization

extension OIPBackend {
    /// A model's metadata as service metadata. Models an `mldeploy` runtime serves (`platform`
    /// `mldeploy_*`) show their declared parameters again; any other model is a realtime service
    /// (`inputData` → `outputData` data frames), its tensors mapped by ``OpenInference/OIPRealtimeMapping``.
    /// What this backend published is read from the repository, or from the Triton model's
    /// configuration (its description, alias and code with it; the latest is the one published last).
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try NameRules.checkServiceName(name)
        let published = try await self.publishedVersions(name)
        if let version, let found = published.first(where: { $0.info.version == version }) { return found.info }
        if version == nil, let latest = published.last { return latest.info }
        let metadata = try await self.json(.get, Self.modelPath(name, version))
        return Self.serviceInfo(metadata, name: name, version: version)
    }

    /// The service metadata `metadata` describes.
    static func serviceInfo(_ metadata: JSONValue, name: String, version: String?) -> ServiceInfo {
        let platform = metadata["platform"]?.stringValue ?? ""
        let versions = metadata["versions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let resolved = version ?? versions.last ?? "1"
        let inputs = (metadata["inputs"]?.arrayValue ?? []).compactMap(OIPTensorMetadata.init(json:))
        let outputs = (metadata["outputs"]?.arrayValue ?? []).compactMap(OIPTensorMetadata.init(json:))
        guard platform.hasPrefix("mldeploy_"), platform != "mldeploy_onnx" else {
            return ServiceInfo(
                name: metadata["name"]?.stringValue ?? name, version: resolved, description: platform.isEmpty ? nil : "\(platform) model",
                inputs: [ParameterDefinition(name: "inputData", type: .dataFrame)], outputs: [ParameterDefinition(name: "outputData", type: .dataFrame)],
                runtime: .realtime
            )
        }
        let runtime: RuntimeType = platform == "mldeploy_python" ? .python : .swift
        return ServiceInfo(
            name: metadata["name"]?.stringValue ?? name, version: resolved,
            inputs: inputs.map(OIPServiceMapping.parameter), outputs: outputs.map(OIPServiceMapping.parameter), runtime: runtime
        )
    }

    /// Every model the server's repository index lists (`POST /v2/repository/index`, ready ones),
    /// else the `models` option's; each version as the server's metadata gives it.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        switch query {
        case .version(let name, let version):
            do { return [try await self.getService(name, version: version)] } catch let error as MLDeployError where error.code == .notFound { return [] }
        case .named(let name):
            try NameRules.checkServiceName(name)
            return try await self.versions(of: name)
        case .all:
            var names = self.configuredModels
            if let index = try? await self.json(.post, "/v2/repository/index", body: ["ready": true]).arrayValue {
                names = Array(Set(index.compactMap { $0["name"]?.stringValue })).sorted()
            }
            if await self.publishesToTriton(), let stats = try? await self.json(.get, "/v2/models/stats")["model_stats"]?.arrayValue {
                // Triton's index leaves out models loaded with their files in the request; its
                // statistics list every loaded model.
                names = Array(Set(names + stats.compactMap { $0["name"]?.stringValue })).sorted()
            }
            if let repository = self.repository, let folders = try? FileManager.default.contentsOfDirectory(atPath: repository.path) {
                names = Array(Set(names + folders.filter { !self.published($0).isEmpty })).sorted()
            }
            var services: [ServiceInfo] = []
            for name in names { services += try await self.versions(of: name) }
            return services
        }
    }

    /// Every version of `name` the server reports (an empty list for an unknown model).
    private func versions(of name: String) async throws -> [ServiceInfo] {
        let published = try await self.publishedVersions(name)
        if !published.isEmpty { return published.map(\.info) }
        let metadata: JSONValue
        do {
            metadata = try await self.json(.get, Self.modelPath(name, nil))
        } catch let error as MLDeployError where error.code == .notFound {
            return []
        }
        let versions = metadata["versions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard versions.count > 1 else { return [Self.serviceInfo(metadata, name: name, version: versions.first)] }
        var services: [ServiceInfo] = []
        for version in versions { services.append(try await self.getService(name, version: version)) }
        return services
    }

    /// The versions this backend published (repository folders, or the Triton model's configuration).
    private func publishedVersions(_ name: String) async throws -> [(info: ServiceInfo, published: Double)] {
        if await self.publishesToTriton() { return try await self.tritonModel(name)?.published(name) ?? [] }
        return self.published(name)
    }

    /// What `mldeploy serve` and the Python runtimes written to MLServer and Triton say before the traceback of
    /// code that raised (a 400): such an answer is the service's failure, not the request's.
    static let raisedMarker = " raised on these inputs: "

    /// Whether the server takes binary tensor data: Triton and `mldeploy serve` do, MLServer's REST
    /// server does not (its server metadata says which). Asked once.
    func takesBinaryData() async -> Bool {
        let metadata = try? await self.server()
        return metadata?["extensions"]?.arrayValue?.contains(.string("binary_tensor_data")) ?? false
    }

    /// One inference: the inputs as tensors (binary tensor data where the server takes it, else
    /// JSON), the outputs back as values. A Python service published to Triton takes and gives each
    /// value as one JSON element (see ``TritonRuntime``).
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        let info = request.service
        // What this backend published to Triton: the version's number and declared tensors.
        let triton = await self.publishesToTriton() ? try await self.tritonModel(info.name) : nil
        let number = triton?.number(of: info.version)
        let record = number.flatMap { triton?.versions[$0] }
        let path = Self.modelPath(info.name, number.map(String.init) ?? info.version) + "/infer"
        let tensors: [OIPTensor]
        if info.runtime == .realtime {
            let declared: JSONValue?
            if let known = record?["tensors"]?["inputs"] {
                declared = known
            } else {
                declared = try await self.json(.get, Self.modelPath(info.name, info.version))["inputs"]
            }
            guard case .dataFrame(let frame)? = request.inputs["inputData"] else {
                throw MLDeployError(code: .inputMismatch, message: "\(info.name)/\(info.version) takes one data frame, inputData.")
            }
            tensors = try OIPRealtimeMapping.tensors(frame, declared: (declared?.arrayValue ?? []).compactMap(OIPTensorMetadata.init(json:)))
        } else if record != nil {
            tensors = try Self.tritonInputs(request.inputs, for: info)
        } else {
            let asOutputs = ServiceInfo(name: info.name, version: info.version, outputs: info.inputs, runtime: info.runtime)
            tensors = OIPServiceMapping.outputs(request.inputs, for: asOutputs)
        }
        let inference = OIPInferenceRequest(inputs: tensors, outputs: [])
        let (body, headerLength) = try inference.encoded(binary: await self.takesBinaryData())
        let response: HTTPResponse
        do {
            response = try await self.send(
                .post, path, body: body, headers: headerLength.map { ["Inference-Header-Content-Length": String($0)] } ?? [:], consume: true
            )
        } catch let error as MLDeployError where error.message.contains(Self.raisedMarker) {
            // The service's code raised (MLServer answers 400, Triton 500): its response, as every
            // backend reports it, with the traceback.
            let message = error.message.components(separatedBy: Self.raisedMarker).dropFirst().joined(separator: Self.raisedMarker)
            let parts = message.components(separatedBy: "\n--- console ---\n")
            return .failure(service: info, errorMessage: parts[0], consoleOutput: parts.dropFirst().joined(separator: "\n--- console ---\n"))
        }
        let answer = try OIPInferenceResponse(body: response.bytes, headerLength: response.headers["Inference-Header-Content-Length"].flatMap { Int($0) })
        var outputs: [String: MLValue]
        var artifacts: [String: Data] = [:]
        var console = ""
        do {
            if info.runtime == .realtime {
                outputs = ["outputData": .dataFrame(try OIPRealtimeMapping.frame(answer.outputs))]
            } else if record != nil {
                (outputs, console, artifacts) = try Self.tritonOutputs(answer.outputs, for: info)
            } else {
                let asInputs = ServiceInfo(name: info.name, version: info.version, inputs: info.outputs, runtime: info.runtime)
                outputs = try OIPServiceMapping.inputs(answer.outputs, for: asInputs)
                // What the MLServer runtime this backend writes adds: the code's console output and
                // the declared artifacts it wrote (base64).
                if let encoded = answer.parameters["mldeploy_artifacts"]?.stringValue, let object = try? JSONValue(parsing: Array(encoded.utf8)).objectValue {
                    for member in object { if let text = member.value.stringValue, let data = Data(base64Encoded: text) { artifacts[member.key] = data } }
                }
                console = answer.parameters["mldeploy_console"]?.stringValue ?? ""
            }
        } catch let error as MLDeployError where error.code == .inputMismatch {
            throw MLDeployError(code: .outputMismatch, message: "\(info.name)/\(info.version) answered outputs that do not fit its declaration: \(error.message)")
        }
        return try ServiceResponse(service: info, outputs: outputs, artifacts: artifacts.filter { info.artifacts.contains($0.key) }, consoleOutput: console)
    }
}
