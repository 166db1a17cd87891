import Foundation
import MLDeploy
import ServiceRuntime

/// One service version as stored: `services/NAME/VERSION.json`.
///
/// The manifest holds everything about the version — metadata, schema, code or handler name — and
/// refers to its objects, models and realtime model by the SHA-256 of their bytes in `blobs/`.
struct Manifest: Sendable {
    /// A blob the version refers to.
    struct BlobReference: Sendable, Hashable {
        let hash: String
        let size: Int
    }

    /// An object or model: a blob (pickled Python), or a simple value kept inline.
    enum StoredObject: Sendable, Hashable {
        case blob(BlobReference)
        case value(MLValue)
    }

    var info: ServiceInfo
    /// Deploy order within the service name (latest = highest).
    var sequence: Int
    /// Changes whenever code, objects or models change (Python workers of older revisions are retired).
    var revision: String
    var objects: [String: StoredObject]
    var models: [String: StoredObject]
    /// The serialized model of a realtime service.
    var model: BlobReference?

    /// Every blob hash the version refers to.
    var blobHashes: Set<String> {
        var hashes = Set<String>()
        for object in self.objects.values.concatenated(with: self.models.values) {
            if case .blob(let reference) = object { hashes.insert(reference.hash) }
        }
        if let model = self.model { hashes.insert(model.hash) }
        return hashes
    }

    // MARK: JSON

    func json() throws -> JSONValue {
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
            "format": .integer(StoreLayout.formatVersion),
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
    init(bytes: [UInt8]) throws {
        guard case .object(let json) = try JSONValue(parsing: bytes) else {
            throw MLDeployError(code: .invalidResponse, message: "The manifest is not a JSON object.")
        }
        guard let format = json["format"]?.intValue else {
            throw MLDeployError(code: .incompatibleStore, message: "The manifest has no format version; it was not written by MLDeploy.")
        }
        guard format <= StoreLayout.formatVersion else {
            throw MLDeployError(code: .incompatibleStore, message: "The manifest has format \(format); this MLDeploy reads up to \(StoreLayout.formatVersion). Upgrade MLDeploy.")
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

    init(info: ServiceInfo, sequence: Int, revision: String, objects: [String: StoredObject], models: [String: StoredObject], model: BlobReference?) {
        self.info = info
        self.sequence = sequence
        self.revision = revision
        self.objects = objects
        self.models = models
        self.model = model
    }

    static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

extension Sequence {
    func concatenated<Other: Sequence>(with other: Other) -> [Element] where Other.Element == Element {
        Array(self) + Array(other)
    }
}
