import Foundation
import MLDeploy
import MLDeployHTTP
import MLDeployONNX
import OpenInference

/// Publishing. To Seldon MLServer: its repository API only loads what is on its disk, so a version
/// is written into the shared model repository (`repository` option) as
/// `<repository>/<name>/<version>/model-settings.json` and its files — staged in a hidden folder and
/// renamed into place, so the server never sees half a version — then loaded with
/// `POST /v2/repository/models/{name}/load`. A version the server refuses to load is removed again.
/// To Triton, the same files travel in the load request (`OIPBackend+Triton.swift`).
extension OIPBackend {
    /// Publishes a Python service (code, init code, objects and models) as a model an MLServer
    /// custom runtime runs, with its declared inputs and outputs as the model's tensors.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` without a repository or for a Swift
    ///   handler; ``MLDeploy/MLDeployError/Code/conflict`` when the version exists.
    public func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.writeService(definition, replacing: false)
    }

    /// Replaces a Python service's version and reloads it.
    public func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try await self.writeService(definition, replacing: true)
    }

    /// Publishes an ONNX model, scored by onnxruntime in the server (an MLServer custom runtime).
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.writeRealtime(definition, replacing: false)
    }

    /// Replaces an ONNX model's version and reloads it.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        try await self.writeRealtime(definition, replacing: true)
    }

    /// Unloads the model, removes the version's folder, and loads the versions that remain (on
    /// Triton: loads the model without the version, or unloads it when none remain).
    public func deleteService(_ name: String, version: String) async throws {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        if await self.publishesToTriton() { return try await self.tritonDelete(name, version: version) }
        let folder = try self.repositoryFolder(name).appendingPathComponent(version, isDirectory: true)
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("model-settings.json").path) else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        _ = try? await self.send(.post, "/v2/repository/models/\(Self.component(name))/unload", body: Array("{}".utf8))
        try FileManager.default.removeItem(at: folder)
        let remaining = (try? FileManager.default.contentsOfDirectory(atPath: folder.deletingLastPathComponent().path)) ?? []
        if remaining.contains(where: { !$0.hasPrefix(".") }) {
            try await self.send(.post, "/v2/repository/models/\(Self.component(name))/load", body: Array("{}".utf8))
        } else {
            try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
        }
    }

    private func writeService(_ definition: ServiceDefinition, replacing: Bool) async throws -> ServiceInfo {
        guard definition.handler == nil else {
            throw MLDeployError(code: .unsupported, message: "The OIP backend publishes Python code; Swift handlers run only in this process (use the memory or file backend).")
        }
        // An update changes only what it gives: the rest comes from the version as published.
        let triton = await self.publishesToTriton()
        let stored = replacing ? try await self.stored(definition.name, version: definition.version, triton: triton) : nil
        let previous = stored?.info
        let previousService = stored?.file("service.json").flatMap { try? JSONValue(parsing: Array($0)) }
        guard let code = definition.code ?? previous?.code else {
            throw MLDeployError(code: .invalidArgument, message: "A Python service needs its code.")
        }
        let version = definition.version ?? UUID().uuidString.lowercased()
        let inputs = definition.inputs ?? previous?.inputs ?? [], outputs = definition.outputs ?? previous?.outputs ?? []
        var objects = JSONObject()
        var files: [String: Data] = [:]
        if definition.objects == nil, definition.models == nil, let kept = previousService?["objects"]?.objectValue, let stored {
            for member in kept {
                objects[member.key] = member.value
                if let file = member.value["file"]?.stringValue { files[file] = stored.file(file) }
            }
        }
        for (name, object) in definition.namespace.sorted(by: { $0.key < $1.key }) {
            switch object {
            case .pickled(let bytes):
                files["objects/\(name).pkl"] = bytes
                objects[name] = ["file": .string("objects/\(name).pkl")]
            case .value(let value):
                objects[name] = ["value": try value.jsonValue()]
            }
        }
        let artifacts = definition.artifacts ?? previous?.artifacts ?? []
        var service: JSONObject = [
            "code": .string(code), "inputs": .array(inputs.map(Self.json)), "outputs": .array(outputs.map(Self.json)), "objects": .object(objects),
            "artifacts": .array(artifacts.map { .string($0) }),
        ]
        if let initCode = definition.initCode ?? previous?.initCode { service["initCode"] = .string(initCode) }
        files["service.json"] = Data(try JSONValue.object(service).serializedBytes())
        var record: JSONObject = [
            "runtime": "Python", "inputs": .array(inputs.map(Self.json)), "outputs": .array(outputs.map(Self.json)), "code": .string(code),
            "artifacts": .array(artifacts.map { .string($0) }),
        ]
        if let description = definition.description ?? previous?.description { record["description"] = .string(description) }
        if let alias = definition.alias ?? previous?.operationID { record["alias"] = .string(alias) }
        if let initCode = definition.initCode ?? previous?.initCode { record["initCode"] = .string(initCode) }
        if triton {
            // Each parameter one BYTES element of its JSON (see TritonRuntime), plus console and artifacts.
            let json = { (name: String) in OIPTensorMetadata(name: name, datatype: .bytes, shape: [1]) }
            return try await self.tritonPublish(
                definition.name, version: version, record: record, inputs: inputs.map { json($0.name) },
                outputs: (outputs.map(\.name) + [TritonRuntime.consoleOutput, TritonRuntime.artifactsOutput]).map(json), files: files, replacing: replacing
            )
        }
        files[MLServerRuntimes.pythonModuleName + ".py"] = Data(MLServerRuntimes.python.utf8)
        let settings = Self.settings(
            name: definition.name, version: version, implementation: "\(MLServerRuntimes.pythonModuleName).PythonService", platform: "mldeploy_python",
            uri: "./service.json", inputs: inputs.map(OIPServiceMapping.metadata), outputs: outputs.map(OIPServiceMapping.metadata), service: record
        )
        try await self.publish(definition.name, version: version, settings: settings, files: files, replacing: replacing)
        return try await self.getService(definition.name, version: version)
    }

    private func writeRealtime(_ definition: RealtimeDefinition, replacing: Bool) async throws -> ServiceInfo {
        // An update without a model keeps the version's own.
        let triton = await self.publishesToTriton()
        let stored = replacing ? try await self.stored(definition.name, version: definition.version, triton: triton) : nil
        guard let bytes = definition.serializedModel ?? stored?.file("model.onnx") else {
            throw MLDeployError(code: .invalidArgument, message: "A realtime service needs its model (an ONNX file).")
        }
        let previous = stored?.info
        let model = try ONNXModel(data: bytes)  // refuses what is not ONNX, naming why, before anything is written
        let version = definition.version ?? UUID().uuidString.lowercased()
        let tensors = { (signatures: [ONNXModel.TensorSignature]) in
            signatures.map { OIPTensorMetadata(onnxName: $0.name, elementType: $0.elementType, shape: $0.shape, isSequenceOfMaps: $0.isSequenceOfMaps) }
        }
        var record: JSONObject = [
            "runtime": "Realtime", "inputs": [["name": "inputData", "type": "data.frame"]], "outputs": [["name": "outputData", "type": "data.frame"]],
        ]
        if let description = definition.description ?? previous?.description { record["description"] = .string(description) }
        if let alias = definition.alias ?? previous?.operationID { record["alias"] = .string(alias) }
        if triton {
            return try await self.tritonPublish(
                definition.name, version: version, record: record, inputs: tensors(model.inputSignatures), outputs: tensors(model.outputSignatures),
                files: ["model.onnx": bytes], replacing: replacing
            )
        }
        let settings = Self.settings(
            name: definition.name, version: version, implementation: "\(MLServerRuntimes.onnxModuleName).ONNXModel", platform: "onnx",
            uri: "./model.onnx", inputs: tensors(model.inputSignatures), outputs: tensors(model.outputSignatures), service: record
        )
        let files = ["model.onnx": bytes, MLServerRuntimes.onnxModuleName + ".py": Data(MLServerRuntimes.onnx.utf8)]
        try await self.publish(definition.name, version: version, settings: settings, files: files, replacing: replacing)
        return try await self.getService(definition.name, version: version)
    }

    /// `model-settings.json` for one version.
    static func settings(
        name: String, version: String, implementation: String, platform: String, uri: String, inputs: [OIPTensorMetadata], outputs: [OIPTensorMetadata],
        service: JSONObject
    ) -> JSONValue {
        var service = service
        service["published"] = .double(Date().timeIntervalSince1970)
        return [
            "name": .string(name), "implementation": .string(implementation), "platform": .string(platform),
            "versions": [.string(version)], "inputs": .array(inputs.map(\.json)), "outputs": .array(outputs.map(\.json)),
            "parameters": ["uri": .string(uri), "version": .string(version), "extra": ["mldeploy": .object(service)]],
        ]
    }

    /// What this backend recorded of a version it published (`parameters.extra.mldeploy` of its
    /// `model-settings.json`: description, alias, declared parameters, code, publication time).
    func published(_ name: String) -> [(info: ServiceInfo, published: Double)] {
        guard let folder = try? self.repositoryFolder(name),
              let versions = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return versions.filter { !$0.hasPrefix(".") }.compactMap { version in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(version).appendingPathComponent("model-settings.json").path),
                  let settings = try? JSONValue(parsing: Array(data)), let record = settings["parameters"]?["extra"]?["mldeploy"] else { return nil }
            return (Self.publishedInfo(name: name, version: version, record: record), record["published"]?.doubleValue ?? 0)
        }.sorted { $0.published < $1.published }
    }

    /// A published version's record and files: from Triton's model configuration, or the repository.
    func stored(_ name: String, version: String?, triton: Bool) async throws -> StoredVersion? {
        if triton { return try await self.tritonStored(name, version: version) }
        guard let version, let info = self.published(name).first(where: { $0.info.version == version })?.info,
              let folder = try? self.repositoryFolder(name).appendingPathComponent(version, isDirectory: true) else { return nil }
        return StoredVersion(info: info) { FileManager.default.contents(atPath: folder.appendingPathComponent($0).path) }
    }

    /// The service metadata of what this backend recorded when it published a version (on MLServer
    /// in `model-settings.json`, on Triton in the model's configuration).
    static func publishedInfo(name: String, version: String, record: JSONValue) -> ServiceInfo {
        func parameters(_ key: String) -> [ParameterDefinition] {
            (record[key]?.arrayValue ?? []).compactMap { entry in
                guard let name = entry["name"]?.stringValue, let type = entry["type"]?.stringValue.flatMap(ParameterType.init(rawValue:)) else { return nil }
                return ParameterDefinition(name: name, type: type)
            }
        }
        return ServiceInfo(
            name: name, version: version, description: record["description"]?.stringValue, operationID: record["alias"]?.stringValue,
            inputs: parameters("inputs"), outputs: parameters("outputs"), runtime: RuntimeType(record["runtime"]?.stringValue ?? "Python"),
            artifacts: record["artifacts"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            creationTime: record["published"]?.doubleValue.map { Date(timeIntervalSince1970: $0) },
            code: record["code"]?.stringValue, initCode: record["initCode"]?.stringValue
        )
    }

    static func json(_ parameter: ParameterDefinition) -> JSONValue {
        ["name": .string(parameter.name), "type": .string(parameter.type.rawValue)]
    }

    /// The model's folder in the repository.
    func repositoryFolder(_ name: String) throws -> URL {
        guard let repository = self.repository else {
            throw MLDeployError(
                code: .unsupported,
                message: "Publishing to an OIP server needs its model repository: give the directory the server loads models from, e.g. oip+http://127.0.0.1:8080?repository=/srv/models."
            )
        }
        return repository.appendingPathComponent(name, isDirectory: true)
    }

    /// Writes the version staged, renames it into place, and loads it; a refused load removes it.
    private func publish(_ name: String, version: String, settings: JSONValue, files: [String: Data], replacing: Bool) async throws {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        let folder = try self.repositoryFolder(name)
        let target = folder.appendingPathComponent(version, isDirectory: true)
        let manager = FileManager.default
        let exists = manager.fileExists(atPath: target.appendingPathComponent("model-settings.json").path)
        if exists, !replacing { throw MLDeployError(code: .conflict, message: "\(name)/\(version) already exists on the server; publish another version or update this one.") }
        if !exists, replacing { throw MLDeployError.serviceNotFound(name: name, version: version) }
        let staging = folder.appendingPathComponent(".staging-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true)
        try manager.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            for (path, bytes) in files {
                let file = staging.appendingPathComponent(path)
                try manager.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try bytes.write(to: file)
            }
            try Data(try settings.serializedBytes()).write(to: staging.appendingPathComponent("model-settings.json"))
            let previous = folder.appendingPathComponent(".previous-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true)
            if exists { try manager.moveItem(at: target, to: previous) }
            try manager.moveItem(at: staging, to: target)
            do {
                try await self.send(.post, "/v2/repository/models/\(Self.component(name))/load", body: Array("{}".utf8))
                try? manager.removeItem(at: previous)
            } catch {
                // The server refused it: put back what was there (or nothing), and reload that.
                try? manager.removeItem(at: target)
                if exists { try? manager.moveItem(at: previous, to: target) }
                if exists { _ = try? await self.send(.post, "/v2/repository/models/\(Self.component(name))/load", body: Array("{}".utf8)) }
                if (try? manager.contentsOfDirectory(atPath: folder.path))?.isEmpty == true { try? manager.removeItem(at: folder) }
                throw error
            }
        } catch {
            try? manager.removeItem(at: staging)
            throw error
        }
    }
}
