import Foundation

/// Everything needed to deploy or redeploy a realtime service: a serialized model scored natively,
/// with the fixed schema `inputData: data.frame` → `outputData: data.frame`.
///
/// For a **deploy** the model is required. For a **redeploy**, `nil` fields are left unchanged.
public struct RealtimeDefinition: Sendable {
    /// The service name.
    public var name: String
    /// The version; `nil` deploys under a generated UUID version (redeploy: the latest version).
    public var version: String?
    /// A description.
    public var description: String?
    /// The operation id callers use; defaults to `consume`.
    public var alias: String?
    /// The serialized model.
    public var serializedModel: Data?
    /// Who publishes the version, when a server publishes on a user's behalf; backends record it as
    /// ``ServiceInfo/publishedBy`` (otherwise the user the client authenticated as).
    public var publishedBy: String?

    /// Creates a definition.
    public init(name: String, version: String? = nil, description: String? = nil, alias: String? = nil, serializedModel: Data? = nil) {
        self.name = name
        self.version = version
        self.description = description
        self.alias = alias
        self.serializedModel = serializedModel
    }

    /// The input schema every realtime service has.
    public static let inputs = [ParameterDefinition(name: "inputData", type: .dataFrame)]
    /// The output schema every realtime service has.
    public static let outputs = [ParameterDefinition(name: "outputData", type: .dataFrame)]

    /// Checks the definition before anything is sent or stored.
    ///
    /// - Throws: ``MLDeployError`` naming the first problem: an invalid name or version, a missing
    ///   version for a redeploy, or a missing or empty model for a deploy.
    public func validate(for purpose: DefinitionPurpose) throws {
        try purpose.checkIdentity(name: self.name, version: self.version, kind: "realtime service")
        if let alias = self.alias {
            try NameRules.checkIdentifier(alias, role: "alias")
        }
        if let model = self.serializedModel, model.isEmpty {
            throw MLDeployError.invalidArgument("The serialized model of realtime service '\(self.name)' is empty.")
        }
        if purpose == .deploy, self.serializedModel == nil {
            throw MLDeployError.invalidArgument(
                "Realtime service '\(self.name)' has no model: give its serialized model (ONNX)."
            )
        }
    }
}
