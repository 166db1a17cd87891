import Foundation

/// The result of one call of a service (the `WebServiceResult` of the ML Server protocol).
///
/// A service whose code failed — a Python exception, a Swift handler that threw — still produces a
/// response: ``success`` is `false`, ``errorMessage`` says why (with the traceback for Python) and
/// ``consoleOutput`` keeps what the code printed before failing. Only failures to *reach* or *use*
/// the service (bad inputs, unknown service, transport errors) throw.
public struct ServiceResponse: Sendable, Hashable {
    /// The consume path the response came from, `/api/{name}/{version}`.
    public var api: String
    /// Whether the service code ran to completion.
    public var success: Bool
    /// Why the service code failed, or `nil` on success.
    public var errorMessage: String?
    /// What the service code printed (stdout and stderr).
    public var consoleOutput: String
    /// Files the call changed, as the backend reports them (`changedFiles`).
    public var changedFiles: [String]
    /// The outputs, typed by the service's output schema, keyed by output name.
    public var outputs: [String: MLValue]
    /// The output schema the outputs were typed with, in declaration order.
    public var outputSchema: [ParameterDefinition]
    /// The outputs exactly as the backend returned them (`outputParameters`), including undeclared ones.
    public var rawOutputs: JSONObject
    /// The artifacts exactly as the backend returned them: file name → base64 (`outputFiles`).
    public var rawArtifacts: [String: String]

    /// Creates a response from values a local backend produced.
    ///
    /// - Parameters:
    ///   - service: The service that ran; its output schema types ``outputs``.
    ///   - outputs: Output values, already checked with ``ServiceInfo/checkOutputs(_:)``.
    ///   - artifacts: Artifact bytes by file name.
    ///   - consoleOutput: What the code printed.
    ///   - errorMessage: Why the code failed, or `nil` for success.
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) if an output holds NaN or infinity.
    public init(
        service: ServiceInfo,
        outputs: [String: MLValue],
        artifacts: [String: Data] = [:],
        consoleOutput: String = "",
        errorMessage: String? = nil,
        changedFiles: [String] = []
    ) throws {
        self.api = service.apiPath
        self.success = errorMessage == nil
        self.errorMessage = errorMessage
        self.consoleOutput = consoleOutput
        self.changedFiles = changedFiles
        self.outputs = outputs
        self.outputSchema = service.outputs
        var raw = JSONObject()
        for definition in service.outputs {
            if let value = outputs[definition.name] {
                raw.append(definition.name, try value.jsonValue())
            }
        }
        self.rawOutputs = raw
        self.rawArtifacts = artifacts.mapValues { $0.base64EncodedString() }
    }

    /// A failed response: the service code raised `errorMessage` after printing `consoleOutput`.
    public static func failure(service: ServiceInfo, errorMessage: String, consoleOutput: String = "") -> ServiceResponse {
        ServiceResponse(
            api: service.apiPath,
            success: false,
            errorMessage: errorMessage,
            consoleOutput: consoleOutput,
            changedFiles: [],
            outputs: [:],
            outputSchema: service.outputs,
            rawOutputs: JSONObject(),
            rawArtifacts: [:]
        )
    }

    /// Creates a response from all of its parts, as a backend decoding a wire response does.
    public init(
        api: String,
        success: Bool,
        errorMessage: String?,
        consoleOutput: String,
        changedFiles: [String],
        outputs: [String: MLValue],
        outputSchema: [ParameterDefinition],
        rawOutputs: JSONObject,
        rawArtifacts: [String: String]
    ) {
        self.api = api
        self.success = success
        self.errorMessage = errorMessage
        self.consoleOutput = consoleOutput
        self.changedFiles = changedFiles
        self.outputs = outputs
        self.outputSchema = outputSchema
        self.rawOutputs = rawOutputs
        self.rawArtifacts = rawArtifacts
    }

    /// The output `name`, or `nil` if the service has no such output.
    public func output(_ name: String) -> MLValue? {
        self.outputs[name]
    }

    /// The artifact file names this response carries, sorted.
    public var artifactNames: [String] { self.rawArtifacts.keys.sorted() }

    /// This response with only the artifacts `service` declares. Service code may write any file;
    /// ML Server returns only the declared ones, and a client must never hand on others (a backend
    /// that leaks them exposes files the publisher did not choose to return).
    public func keepingArtifacts(declaredBy service: ServiceInfo) -> ServiceResponse {
        guard self.rawArtifacts.keys.contains(where: { !service.artifacts.contains($0) }) else { return self }
        var copy = self
        copy.rawArtifacts = self.rawArtifacts.filter { service.artifacts.contains($0.key) }
        return copy
    }

    /// The bytes of artifact `name`, decoded from base64, or `nil` if the response has no such artifact.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArtifact``) if the backend sent
    ///   something that is not base64.
    public func artifact(_ name: String) throws -> Data? {
        guard let encoded = self.rawArtifacts[name] else { return nil }
        guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
            throw MLDeployError(code: .invalidArtifact, message: "Artifact '\(name)' of \(self.api) is not valid base64.")
        }
        return data
    }

    /// The text of artifact `name` in `encoding`, or `nil` if the response has no such artifact.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidArtifact``) if it is not base64 or not
    ///   text in that encoding.
    public func artifact(_ name: String, encoding: String.Encoding) throws -> String? {
        guard let data = try self.artifact(name) else { return nil }
        guard let text = String(data: data, encoding: encoding) else {
            throw MLDeployError(code: .invalidArtifact, message: "Artifact '\(name)' of \(self.api) is not text in \(encoding).")
        }
        return text
    }

    /// The raw base64 text of artifact `name`, as the backend sent it.
    public func rawArtifact(_ name: String) -> String? {
        self.rawArtifacts[name]
    }
}
