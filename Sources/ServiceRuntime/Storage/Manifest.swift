import Foundation
import MLDeploy
import MLDeployCrypto

/// One service version as the stores keep it — the filesystem store as `services/NAME/VERSION.json`,
/// the PostgreSQL backend as a row — in one JSON format.
///
/// The manifest holds everything about the version — metadata, schema, code or handler name — and
/// refers to its objects, models and realtime model by the SHA-256 of their bytes, which the store
/// keeps once per content (blobs).
package struct Manifest: Sendable {
    /// The manifest format this code writes and reads.
    package static let formatVersion = 1

    /// A blob the version refers to.
    package struct BlobReference: Sendable, Hashable {
        package let hash: String
        package let size: Int

        package init(hash: String, size: Int) {
            self.hash = hash
            self.size = size
        }
    }

    /// An object or model: a blob (pickled Python), or a simple value kept inline.
    package enum StoredObject: Sendable, Hashable {
        case blob(BlobReference)
        case value(MLValue)
    }

    package var info: ServiceInfo
    /// Deploy order within the service name (latest = highest).
    package var sequence: Int
    /// Changes whenever code, objects or models change (Python workers of older revisions are retired).
    package var revision: String
    package var objects: [String: StoredObject]
    package var models: [String: StoredObject]
    /// The serialized model of a realtime service.
    package var model: BlobReference?

    /// Every blob hash the version refers to.
    package var blobHashes: Set<String> {
        var hashes = Set<String>()
        for object in self.objects.values.concatenated(with: self.models.values) {
            if case .blob(let reference) = object { hashes.insert(reference.hash) }
        }
        if let model = self.model { hashes.insert(model.hash) }
        return hashes
    }

    // MARK: JSON

    package func json() throws -> JSONValue {
        func parameters(_ list: [ParameterDefinition]) -> JSONValue {
            .array(list.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })
        }
        func objects(_ objects: [String: StoredObject]) throws -> JSONValue {
            var json = JSONObject()
            for (name, object) in objects.sorted(by: { $0.key < $1.key }) {
                switch object {
                case .blob(let reference):
                    json.append(name, ["blob": .string(reference.hash), "size": .integer(reference.size)])
                case .value(let value):
                    json.append(name, ["value": try value.jsonValue(), "type": value.naturalType.map { .string($0.rawValue) } ?? .null])
                }
            }
            return .object(json)
        }
        let info = self.info
        var json: JSONObject = [
            "format": .integer(Self.formatVersion),
            "name": .string(info.name),
            "version": .string(info.version),
            "sequence": .integer(self.sequence),
            "revision": .string(self.revision),
            "description": info.description.map(JSONValue.string) ?? .null,
            "operationId": info.operationID.map(JSONValue.string) ?? .null,
            "runtime": .string(info.runtime.rawValue),
            "inputs": parameters(info.inputs),
            "outputs": parameters(info.outputs),
            "artifacts": .array(info.artifacts.map(JSONValue.string)),
            "creationTime": info.creationTime.map { .double($0.timeIntervalSince1970) } ?? .null,
            "publishedBy": info.publishedBy.map(JSONValue.string) ?? .null,
            "code": info.code.map(JSONValue.string) ?? .null,
            "initCode": info.initCode.map(JSONValue.string) ?? .null,
            "handler": info.handlerName.map(JSONValue.string) ?? .null,
        ]
        json["objects"] = try objects(self.objects)
        json["models"] = try objects(self.models)
        json["model"] = self.model.map { ["blob": .string($0.hash), "size": .integer($0.size)] } ?? .null
        return .object(json)
    }

    /// Reads a manifest, checking it is ours, of a version we understand, and complete.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/incompatibleStore`` for a foreign or newer manifest,
    ///   ``MLDeploy/MLDeployError/Code/invalidJSON`` or ``MLDeploy/MLDeployError/Code/invalidResponse``
    ///   for a corrupt one.
    package init(bytes: [UInt8]) throws {
        guard case .object(let json) = try JSONValue(parsing: bytes) else {
            throw MLDeployError(code: .invalidResponse, message: "The manifest is not a JSON object.")
        }
        guard let format = json["format"]?.intValue else {
            throw MLDeployError(code: .incompatibleStore, message: "The manifest has no format version; it was not written by MLDeploy.")
        }
        guard format <= Self.formatVersion else {
            throw MLDeployError(code: .incompatibleStore, message: "The manifest has format \(format); this MLDeploy reads up to \(Self.formatVersion). Upgrade MLDeploy.")
        }
        func string(_ key: String) throws -> String {
            guard let value = json[key]?.stringValue else {
                throw MLDeployError(code: .invalidResponse, message: "The manifest has no '\(key)'.")
            }
            return value
        }
        func optionalString(_ key: String) -> String? { json[key]?.stringValue }
        func parameters(_ key: String) throws -> [ParameterDefinition] {
            try (json[key]?.arrayValue ?? []).map { item in
                guard let name = item["name"]?.stringValue, let type = item["type"]?.stringValue else {
                    throw MLDeployError(code: .invalidResponse, message: "A parameter in '\(key)' lacks its name or type.")
                }
                return ParameterDefinition(name: name, type: try ParameterType(parsing: type))
            }
        }
        func blob(_ value: JSONValue?) throws -> BlobReference? {
            guard let value, !value.isNull else { return nil }
            guard let hash = value["blob"]?.stringValue, Self.isHash(hash), let size = value["size"]?.intValue else {
                throw MLDeployError(code: .invalidResponse, message: "A blob reference in the manifest is malformed.")
            }
            return BlobReference(hash: hash, size: size)
        }
        func objects(_ key: String) throws -> [String: StoredObject] {
            var objects: [String: StoredObject] = [:]
            for member in json[key]?.objectValue ?? [:] {
                if let reference = try blob(member.value["blob"] == nil ? nil : member.value) {
                    objects[member.key] = .blob(reference)
                } else if let value = member.value["value"] {
                    if let type = member.value["type"]?.stringValue {
                        objects[member.key] = .value(try MLValue(json: value, as: try ParameterType(parsing: type), parameter: member.key, direction: .input))
                    } else {
                        objects[member.key] = .value(.null)
                    }
                } else {
                    throw MLDeployError(code: .invalidResponse, message: "Object '\(member.key)' in the manifest has neither a blob nor a value.")
                }
            }
            return objects
        }
        let name = try string("name"), version = try string("version")
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(version)
        guard let sequence = json["sequence"]?.intValue else {
            throw MLDeployError(code: .invalidResponse, message: "The manifest has no sequence number.")
        }
        self.info = ServiceInfo(
            name: name,
            version: version,
            description: optionalString("description"),
            operationID: optionalString("operationId"),
            inputs: try parameters("inputs"),
            outputs: try parameters("outputs"),
            runtime: RuntimeType(try string("runtime")),
            artifacts: (json["artifacts"]?.arrayValue ?? []).compactMap(\.stringValue),
            creationTime: json["creationTime"]?.doubleValue.map { Date(timeIntervalSince1970: $0) },
            publishedBy: optionalString("publishedBy"),
            code: optionalString("code"),
            initCode: optionalString("initCode"),
            handlerName: optionalString("handler")
        )
        self.sequence = sequence
        self.revision = try string("revision")
        self.objects = try objects("objects")
        self.models = try objects("models")
        self.model = try blob(json["model"])
    }

    package init(info: ServiceInfo, sequence: Int, revision: String, objects: [String: StoredObject], models: [String: StoredObject], model: BlobReference?) {
        self.info = info
        self.sequence = sequence
        self.revision = revision
        self.objects = objects
        self.models = models
        self.model = model
    }

    // MARK: Deploying and redeploying (the same rules in every store)

    /// The manifest of a new version of `definition` (already validated and staged).
    package static func deployed(
        _ definition: ServiceDefinition, version: String, sequence: Int, publishedBy principal: String?,
        objects: [String: StoredObject], models: [String: StoredObject]
    ) -> Manifest {
        let info = ServiceInfo(
            name: definition.name, version: version, description: definition.description,
            operationID: definition.effectiveAlias, inputs: definition.inputs ?? [], outputs: definition.outputs ?? [],
            runtime: definition.runtime ?? .python, artifacts: definition.artifacts ?? [], creationTime: Date(),
            publishedBy: definition.publishedBy ?? principal, code: definition.code, initCode: definition.initCode, handlerName: definition.handler?.name
        )
        return Manifest(info: info, sequence: sequence, revision: UUID().uuidString, objects: objects, models: models, model: nil)
    }

    /// Applies the fields `definition` sets (objects and models when given) and starts a new revision.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` for a realtime version.
    package mutating func redeploy(_ definition: ServiceDefinition, objects: [String: StoredObject]?, models: [String: StoredObject]?) throws {
        guard self.model == nil else {
            throw MLDeployError.invalidArgument("'\(definition.name)' version '\(self.info.version)' is a realtime service: redeploy it as one (its model, description or alias).")
        }
        var info = self.info
        if let description = definition.description { info.description = description }
        if let alias = definition.alias { info.operationID = alias }
        if let runtime = definition.runtime {
            info.runtime = runtime
            info.code = definition.code
            info.initCode = definition.initCode
            info.handlerName = definition.handler?.name
            if definition.alias == nil, info.operationID == nil, let handler = definition.handler { info.operationID = handler.name }
        } else if let initCode = definition.initCode {
            info.initCode = initCode
        }
        if let inputs = definition.inputs { info.inputs = inputs }
        if let outputs = definition.outputs { info.outputs = outputs }
        if let artifacts = definition.artifacts { info.artifacts = artifacts }
        self.info = info
        if let objects { self.objects = objects }
        if let models { self.models = models }
        self.revision = UUID().uuidString
    }

    /// The manifest of a new realtime version with the fixed `inputData`/`outputData` schema.
    package static func deployedRealtime(_ definition: RealtimeDefinition, version: String, sequence: Int, publishedBy principal: String?, model: BlobReference) -> Manifest {
        let info = ServiceInfo(
            name: definition.name, version: version, description: definition.description, operationID: definition.alias,
            inputs: RealtimeDefinition.inputs, outputs: RealtimeDefinition.outputs, runtime: .realtime,
            creationTime: Date(), publishedBy: definition.publishedBy ?? principal
        )
        return Manifest(info: info, sequence: sequence, revision: UUID().uuidString, objects: [:], models: [:], model: model)
    }

    /// Applies a realtime redeploy: description, alias, and the model when given.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` for a version that is not realtime.
    package mutating func redeployRealtime(_ definition: RealtimeDefinition, model: BlobReference?) throws {
        guard self.model != nil else {
            throw MLDeployError.invalidArgument("'\(definition.name)' version '\(self.info.version)' is not a realtime service: redeploy it as a Python or Swift service.")
        }
        if let description = definition.description { self.info.description = description }
        if let alias = definition.alias { self.info.operationID = alias }
        if let model { self.model = model }
        self.revision = UUID().uuidString
    }

    /// Objects and models split into what a manifest stores and the blob bytes by hash; values
    /// that cannot be stored (NaN) are refused before anything is written.
    package static func stage(_ objects: [String: ServiceObject]) throws -> (stored: [String: StoredObject], blobs: [String: [UInt8]]) {
        var stored: [String: StoredObject] = [:]
        var blobs: [String: [UInt8]] = [:]
        for (name, object) in objects {
            switch object {
            case .value(let value):
                _ = try value.jsonValue()
                stored[name] = .value(value)
            case .pickled(let data):
                let bytes = Array(data)
                let hash = SHA256.hex(bytes)
                stored[name] = .blob(.init(hash: hash, size: bytes.count))
                blobs[hash] = bytes
            }
        }
        return (stored, blobs)
    }

    /// What runs this version: its implementation and its namespace (models, then objects over
    /// them), with each blob's bytes from `blob` (by hash).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` for a manifest with no code, handler
    ///   or model; what `blob` throws.
    package func executable(blob: (String) throws -> Data, model: (String) throws -> Data) throws -> (ServiceImplementation, [String: ServiceObject]) {
        func load(_ objects: [String: StoredObject]) throws -> [String: ServiceObject] {
            try objects.mapValues { object in
                switch object {
                case .value(let value): return .value(value)
                case .blob(let reference): return .pickled(try blob(reference.hash))
                }
            }
        }
        var namespace = try load(self.models)
        namespace.merge(try load(self.objects)) { _, object in object }
        let implementation: ServiceImplementation
        if let realtime = self.model {
            implementation = .realtime(model: try model(realtime.hash))
        } else if let handler = self.info.handlerName {
            implementation = .swiftHandlerNamed(handler)
        } else if let code = self.info.code {
            implementation = .python(code: code, initCode: self.info.initCode, revision: self.revision)
        } else {
            throw MLDeployError(code: .storageFailure, message: "The manifest of \(self.info.name)/\(self.info.version) has no code, handler or model.")
        }
        return (implementation, namespace)
    }

    package static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

extension Sequence {
    package func concatenated<Other: Sequence>(with other: Other) -> [Element] where Other.Element == Element {
        Array(self) + Array(other)
    }
}
