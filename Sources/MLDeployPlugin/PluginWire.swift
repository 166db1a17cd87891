import Foundation
import MLDeploy

/// How the framework's values travel in plugin protocol messages (documented, field by field, in
/// docs/plugin-protocol.md).
///
/// Service metadata and call results use ML Server's own JSON shapes (`WebService`,
/// `WebServiceResult`), so a plugin author in any language meets the forms the REST API already
/// documents; bytes (models, pickled objects, artifacts) go in attachments.
package enum PluginWire {
    // MARK: Attachments

    /// Collects attachments while a message is encoded.
    package struct Attachments {
        package private(set) var list: [[UInt8]] = []
        package init() {}

        /// Adds `bytes` and returns the JSON that refers to them.
        package mutating func add(_ bytes: Data) -> JSONValue {
            self.list.append([UInt8](bytes))
            return ["$attachment": .integer(self.list.count - 1)]
        }
    }

    /// The bytes `json` refers to (`{"$attachment": i}`).
    package static func attachment(_ json: JSONValue?, in attachments: [[UInt8]], what: String) throws -> Data {
        guard let index = json?["$attachment"]?.intValue, attachments.indices.contains(index) else {
            throw invalid("\(what) must be {\"$attachment\": i} naming one of the message's \(attachments.count) attachments")
        }
        return Data(attachments[index])
    }

    // MARK: Small shapes

    package static func invalid(_ what: String) -> MLDeployError {
        MLDeployError(code: .invalidResponse, message: "A plugin protocol message is malformed: \(what).")
    }

    package static func string(_ json: JSONValue, _ key: String) throws -> String {
        guard let value = json[key]?.stringValue else { throw invalid("'\(key)' must be a string") }
        return value
    }

    package static func optionalString(_ json: JSONValue, _ key: String) -> String? {
        json[key]?.stringValue
    }

    /// `json` unless it is absent or `null`.
    package static func present(_ json: JSONValue?) -> JSONValue? {
        guard let json, !json.isNull else { return nil }
        return json
    }

    package static func parameters(_ list: [ParameterDefinition]) -> JSONValue {
        .array(list.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })
    }

    package static func parameters(_ json: JSONValue?) throws -> [ParameterDefinition] {
        try (json?.arrayValue ?? []).map { item in
            guard let name = item["name"]?.stringValue, let type = item["type"]?.stringValue else {
                throw invalid("a parameter lacks its name or type")
            }
            return ParameterDefinition(name: name, type: try ParameterType(parsing: type))
        }
    }

    package static func reference(_ reference: ServiceReference) -> JSONValue {
        ["name": .string(reference.name), "version": .string(reference.version)]
    }

    package static func reference(_ json: JSONValue) throws -> ServiceReference {
        ServiceReference(name: try string(json, "name"), version: try string(json, "version"))
    }

    package static func batch(_ batch: BatchReference) -> JSONObject {
        ["name": .string(batch.service.name), "version": .string(batch.service.version), "executionId": .string(batch.executionID)]
    }

    package static func batch(_ json: JSONValue) throws -> BatchReference {
        BatchReference(service: try reference(json), executionID: try string(json, "executionId"))
    }

    package static func query(_ query: ServiceQuery) -> JSONValue {
        switch query {
        case .all: return .object([:])
        case .named(let name): return ["name": .string(name)]
        case .version(let name, let version): return ["name": .string(name), "version": .string(version)]
        }
    }

    package static func query(_ json: JSONValue) -> ServiceQuery {
        switch (json["name"]?.stringValue, json["version"]?.stringValue) {
        case (let name?, let version?): return .version(name: name, version: version)
        case (let name?, nil): return .named(name)
        default: return .all
        }
    }

    package static func capabilities(_ capabilities: BackendCapabilities) -> JSONValue {
        .array(BackendCapabilities.named.filter { capabilities.contains($0.1) }.map { .string($0.0) })
    }

    package static func capabilities(_ json: JSONValue?) -> BackendCapabilities {
        let names = Set((json?.arrayValue ?? []).compactMap(\.stringValue))
        return BackendCapabilities.named.reduce(into: []) { result, entry in
            if names.contains(entry.0) { result.insert(entry.1) }
        }
    }

    // MARK: Configuration and credentials

    package static func configuration(_ configuration: BackendConfiguration) -> JSONValue {
        var options = JSONObject()
        for key in configuration.options.keys.sorted() { options.append(key, .string(configuration.options[key]!)) }
        return [
            "backendName": .string(configuration.backendName),
            "host": configuration.host.map(JSONValue.string) ?? .null,
            "uri": configuration.uri.map { .string($0.description) } ?? .null,
            "options": .object(options),
        ]
    }

    package static func configuration(_ json: JSONValue) throws -> BackendConfiguration {
        var options: [String: String] = [:]
        for member in json["options"]?.objectValue ?? JSONObject() {
            options[member.key] = member.value.stringValue
        }
        return BackendConfiguration(
            backendName: try string(json, "backendName"),
            host: optionalString(json, "host"),
            uri: try optionalString(json, "uri").map { try TargetURI(parsing: $0) },
            options: options
        )
    }

    package static func credentials(_ auth: AuthContext) -> JSONValue {
        var object = JSONObject()
        if let (username, password) = auth.passwordCredentials {
            object["username"] = .string(username)
            object["password"] = .string(password)
        } else if let token = auth.accessToken {
            object["accessToken"] = .string(token)
        } else if let aad = auth.aadOptions {
            var options: JSONObject = [
                "authuri": .string(aad.authority), "tenant": .string(aad.tenant), "clientid": .string(aad.clientID), "resource": .string(aad.resource),
            ]
            if let value = aad.username { options["username"] = .string(value) }
            if let value = aad.password { options["password"] = .string(value) }
            if let value = aad.clientSecret { options["client_secret"] = .string(value) }
            object["aad"] = .object(options)
        }
        if let session = auth.session {
            var resumed: JSONObject = ["accessToken": .string(session.accessToken)]
            if let value = session.refreshToken { resumed["refreshToken"] = .string(value) }
            if let value = session.username { resumed["username"] = .string(value) }
            object["session"] = .object(resumed)
        }
        return .object(object)
    }

    package static func credentials(_ json: JSONValue) throws -> AuthContext {
        var auth: AuthContext
        if let username = json["username"]?.stringValue, let password = json["password"]?.stringValue {
            auth = .password(username: username, password: password)
        } else if let token = json["accessToken"]?.stringValue {
            auth = .accessToken(token)
        } else if let aad = json["aad"]?.objectValue {
            var dictionary: [String: String] = [:]
            for member in aad { dictionary[member.key] = member.value.stringValue }
            auth = .azureActiveDirectory(try AADOptions(dictionary: dictionary))
        } else if let token = json["session"]?["accessToken"]?.stringValue {
            auth = .accessToken(token)
        } else {
            throw invalid("credentials must carry username and password, accessToken or aad")
        }
        if let session = json["session"], let token = session["accessToken"]?.stringValue {
            auth = auth.resuming(AuthSession(accessToken: token, refreshToken: session["refreshToken"]?.stringValue, username: session["username"]?.stringValue))
        }
        return auth
    }

    // MARK: Services

    package static func serviceInfo(_ info: ServiceInfo) -> JSONValue {
        let json = info.webServiceJSON()
        guard let handler = info.handlerName, case .object(var object) = json else { return json }
        object["handlerName"] = .string(handler)
        return .object(object)
    }

    package static func serviceInfo(_ json: JSONValue) throws -> ServiceInfo {
        var info = try ServiceInfo(webServiceJSON: json)
        info.handlerName = json["handlerName"]?.stringValue
        return info
    }

    package static func serviceInfos(_ json: JSONValue) throws -> [ServiceInfo] {
        guard let list = json.arrayValue else { throw invalid("a service list must be an array") }
        return try list.map(serviceInfo)
    }

    package static func objects(_ objects: [String: ServiceObject]?, _ attachments: inout Attachments) throws -> JSONValue {
        guard let objects else { return .null }
        var result = JSONObject()
        for name in objects.keys.sorted() {
            switch objects[name]! {
            case .pickled(let bytes):
                result.append(name, ["pickled": attachments.add(bytes)])
            case .value(let value):
                result.append(name, ["value": try value.jsonValue(), "type": value.naturalType.map { .string($0.rawValue) } ?? .null])
            }
        }
        return .object(result)
    }

    package static func objects(_ json: JSONValue?, _ attachments: [[UInt8]]) throws -> [String: ServiceObject]? {
        guard let json, !json.isNull else { return nil }
        guard let object = json.objectValue else { throw invalid("objects and models must be a JSON object") }
        var result: [String: ServiceObject] = [:]
        for member in object {
            if let pickled = member.value["pickled"] {
                result[member.key] = .pickled(try attachment(pickled, in: attachments, what: "pickled object '\(member.key)'"))
            } else if let value = member.value["value"] {
                if let type = member.value["type"]?.stringValue {
                    result[member.key] = .value(try MLValue(json: value, as: try ParameterType(parsing: type), parameter: member.key, direction: .input))
                } else {
                    result[member.key] = .value(MLValue(untypedJSON: value) ?? .null)
                }
            } else {
                throw invalid("object '\(member.key)' must carry 'pickled' or 'value'")
            }
        }
        return result
    }

    package static func definition(_ definition: ServiceDefinition, _ attachments: inout Attachments) throws -> JSONValue {
        var object: JSONObject = ["name": .string(definition.name)]
        func put(_ key: String, _ value: String?) { if let value { object[key] = .string(value) } }
        put("version", definition.version)
        put("description", definition.description)
        put("alias", definition.alias)
        put("code", definition.code)
        put("initCode", definition.initCode)
        put("handler", definition.handler?.name)
        put("publishedBy", definition.publishedBy)
        if definition.objects != nil { object["objects"] = try objects(definition.objects, &attachments) }
        if definition.models != nil { object["models"] = try objects(definition.models, &attachments) }
        if let inputs = definition.inputs { object["inputs"] = parameters(inputs) }
        if let outputs = definition.outputs { object["outputs"] = parameters(outputs) }
        if let artifacts = definition.artifacts { object["artifacts"] = .array(artifacts.map(JSONValue.string)) }
        return .object(object)
    }

    /// Reads a definition; a Swift handler is resolved by name with `handler`.
    package static func definition(
        _ json: JSONValue,
        _ attachments: [[UInt8]],
        handler: (String) throws -> ServiceHandler
    ) throws -> ServiceDefinition {
        var definition = ServiceDefinition(
            name: try string(json, "name"),
            version: optionalString(json, "version"),
            description: optionalString(json, "description"),
            alias: optionalString(json, "alias"),
            code: optionalString(json, "code"),
            initCode: optionalString(json, "initCode"),
            handler: try optionalString(json, "handler").map(handler),
            objects: try objects(json["objects"], attachments),
            models: try objects(json["models"], attachments),
            inputs: try present(json["inputs"]).map { try parameters($0) },
            outputs: try present(json["outputs"]).map { try parameters($0) },
            artifacts: json["artifacts"]?.arrayValue?.compactMap(\.stringValue)
        )
        definition.publishedBy = optionalString(json, "publishedBy")
        return definition
    }

    package static func realtime(_ definition: RealtimeDefinition, _ attachments: inout Attachments) -> JSONValue {
        var object: JSONObject = ["name": .string(definition.name)]
        if let value = definition.version { object["version"] = .string(value) }
        if let value = definition.description { object["description"] = .string(value) }
        if let value = definition.alias { object["alias"] = .string(value) }
        if let value = definition.publishedBy { object["publishedBy"] = .string(value) }
        if let model = definition.serializedModel { object["model"] = attachments.add(model) }
        return .object(object)
    }

    package static func realtime(_ json: JSONValue, _ attachments: [[UInt8]]) throws -> RealtimeDefinition {
        var definition = RealtimeDefinition(
            name: try string(json, "name"),
            version: optionalString(json, "version"),
            description: optionalString(json, "description"),
            alias: optionalString(json, "alias"),
            serializedModel: try present(json["model"]).map { try attachment($0, in: attachments, what: "the model") }
        )
        definition.publishedBy = optionalString(json, "publishedBy")
        return definition
    }

    // MARK: Calls

    /// Inputs in the wire form of their declared types.
    package static func inputs(_ inputs: [String: MLValue], schema: [ParameterDefinition]) throws -> JSONValue {
        let types = Dictionary(schema.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
        var object = JSONObject()
        for name in inputs.keys.sorted() {
            let value = inputs[name]!
            object.append(name, try types[name].map { try value.json(as: $0, parameter: name) } ?? value.jsonValue())
        }
        return .object(object)
    }

    package static func inputs(_ json: JSONValue?, schema: [ParameterDefinition]) throws -> [String: MLValue] {
        let types = Dictionary(schema.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
        var result: [String: MLValue] = [:]
        for member in json?.objectValue ?? JSONObject() {
            if let type = types[member.key] {
                result[member.key] = try MLValue(json: member.value, as: type, parameter: member.key, direction: .input)
            } else {
                result[member.key] = MLValue(untypedJSON: member.value) ?? .null
            }
        }
        return result
    }

    package static func response(_ response: ServiceResponse) -> JSONValue {
        let json = response.webServiceResultJSON()
        guard case .object(var object) = json else { return json }
        object["api"] = .string(response.api)
        object["outputSchema"] = parameters(response.outputSchema)
        return .object(object)
    }

    package static func response(_ json: JSONValue) throws -> ServiceResponse {
        guard json.objectValue != nil else { throw invalid("a call result must be a JSON object") }
        let success = json["success"]?.boolValue ?? true
        let schema = try parameters(json["outputSchema"])
        let raw = json["outputParameters"]?.objectValue ?? JSONObject()
        var outputs: [String: MLValue] = [:]
        if success {
            for definition in schema {
                guard let value = raw[definition.name] else { continue }
                outputs[definition.name] = try MLValue(json: value, as: definition.type, parameter: definition.name, direction: .output)
            }
        }
        var artifacts: [String: String] = [:]
        for member in json["outputFiles"]?.objectValue ?? JSONObject() {
            if let text = member.value.stringValue { artifacts[member.key] = text }
        }
        let message = json["errorMessage"]?.stringValue
        return ServiceResponse(
            api: json["api"]?.stringValue ?? "",
            success: success,
            errorMessage: success ? nil : (message?.isEmpty == false ? message : "The service reported a failure without a message."),
            consoleOutput: json["consoleOutput"]?.stringValue ?? "",
            changedFiles: (json["changedFiles"]?.arrayValue ?? []).compactMap(\.stringValue),
            outputs: outputs,
            outputSchema: schema,
            rawOutputs: raw,
            rawArtifacts: artifacts
        )
    }

    package static func status(_ status: BatchStatus) -> JSONValue {
        [
            "executionId": .string(status.executionID),
            "state": .string(status.state.rawValue),
            "completedItemCount": .integer(status.completedItemCount),
            "totalItemCount": .integer(status.totalItemCount),
            "results": .array(status.results.map { ["index": .integer($0.index), "result": response($0.response)] }),
        ]
    }

    package static func status(_ json: JSONValue) throws -> BatchStatus {
        BatchStatus(
            executionID: try string(json, "executionId"),
            state: BatchState(try string(json, "state")),
            completedItemCount: json["completedItemCount"]?.intValue ?? 0,
            totalItemCount: json["totalItemCount"]?.intValue ?? 0,
            results: try (json["results"]?.arrayValue ?? []).map { item in
                guard let index = item["index"]?.intValue, let result = item["result"] else { throw invalid("a batch result lacks its index or result") }
                return BatchItem(index: index, response: try response(result))
            }
        )
    }

    package static func strings(_ json: JSONValue) throws -> [String] {
        guard let list = json.arrayValue else { throw invalid("expected an array of strings") }
        return list.compactMap(\.stringValue)
    }

    // MARK: Errors

    /// The framework error a JSON-RPC error object stands for.
    package static func error(_ json: JSONValue, plugin: String) -> MLDeployError {
        let rpcCode = json["code"]?.intValue ?? PluginRPCError.backendFailure
        let message = json["message"]?.stringValue ?? "The plugin reported an error without a message."
        if let code = json["data"]?["code"]?.stringValue {
            var error = MLDeployError(code: MLDeployError.Code(code), message: message)
            error.httpStatus = json["data"]?["httpStatus"]?.intValue
            return error
        }
        switch rpcCode {
        case PluginRPCError.methodNotFound:
            return MLDeployError(code: .unsupported, message: "The \(plugin) plugin does not implement this operation (\(message)).")
        case PluginRPCError.requestCancelled:
            return MLDeployError(code: .cancelled, message: "The \(plugin) plugin cancelled the operation.")
        case PluginRPCError.invalidParams, PluginRPCError.invalidRequest, PluginRPCError.parseError:
            return MLDeployError(code: .pluginFailed, message: "The \(plugin) plugin refused a message of the host (JSON-RPC error \(rpcCode)): \(message)")
        default:
            return MLDeployError(code: .backendFailure, message: message)
        }
    }
}
