import Foundation

/// Everything needed to deploy or redeploy a standard (code) service — the keyword options of the
/// Python SDK's `deploy_service` as one value.
///
/// For a **deploy**, `nil` means "the default": no version (the backend generates one), no
/// description, alias `consume` (or the handler's name), no inputs, outputs or artifacts.
/// For a **redeploy**, `nil` means "unchanged": only the fields that are set are changed.
///
/// Build one with the fluent ``ServiceBuilder`` (`client.service("name")…`), with the memberwise
/// initializer, or from a Python-style options dictionary with ``init(name:options:)``.
public struct ServiceDefinition: Sendable {
    /// The service name.
    public var name: String
    /// The version; `nil` deploys under a generated UUID version (redeploy: the latest version).
    public var version: String?
    /// A description.
    public var description: String?
    /// The operation id callers use (`alias`); defaults to the handler's name, or `consume`.
    public var alias: String?
    /// Python code run per call (`code_str`).
    public var code: String?
    /// Python code run once per worker before the first call (`init_str`).
    public var initCode: String?
    /// A Swift handler run per call, instead of Python code.
    public var handler: ServiceHandler?
    /// Objects placed in the service's namespace.
    public var objects: [String: ServiceObject]?
    /// Models placed in the service's namespace (same namespace as objects; objects win a tie).
    public var models: [String: ServiceObject]?
    /// Input parameters, in call order.
    public var inputs: [ParameterDefinition]?
    /// Output parameters.
    public var outputs: [ParameterDefinition]?
    /// Artifact file names returned by every call (`outputFileNames`).
    public var artifacts: [String]?
    /// Who publishes the version, when a server publishes on a user's behalf; backends record it as
    /// ``ServiceInfo/publishedBy`` (otherwise the user the client authenticated as).
    public var publishedBy: String?

    /// Creates a definition; every option but the name is optional.
    public init(
        name: String,
        version: String? = nil,
        description: String? = nil,
        alias: String? = nil,
        code: String? = nil,
        initCode: String? = nil,
        handler: ServiceHandler? = nil,
        objects: [String: ServiceObject]? = nil,
        models: [String: ServiceObject]? = nil,
        inputs: [ParameterDefinition]? = nil,
        outputs: [ParameterDefinition]? = nil,
        artifacts: [String]? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.alias = alias
        self.code = code
        self.initCode = initCode
        self.handler = handler
        self.objects = objects
        self.models = models
        self.inputs = inputs
        self.outputs = outputs
        self.artifacts = artifacts
    }

    /// The runtime this definition selects, if it selects one (a redeploy may leave it unchanged).
    public var runtime: RuntimeType? {
        if self.handler != nil { return .swift }
        if self.code != nil { return .python }
        return nil
    }

    /// The operation id a deploy records: the alias, else the handler's name, else none (`consume`).
    public var effectiveAlias: String? {
        self.alias ?? self.handler?.name
    }

    /// The namespace the service's code sees: models, then objects (an object wins a name clash).
    public var namespace: [String: ServiceObject] {
        var merged = self.models ?? [:]
        for (name, object) in self.objects ?? [:] {
            merged[name] = object
        }
        return merged
    }

    /// Checks the definition before anything is sent or stored.
    ///
    /// - Parameter purpose: Whether it is about to be deployed (code or a handler is required) or
    ///   redeployed (a version is required; everything else is optional).
    /// - Throws: ``MLDeployError`` naming the first problem: ``MLDeployError/Code/invalidName``,
    ///   ``MLDeployError/Code/invalidVersion``, ``MLDeployError/Code/missingVersion`` or
    ///   ``MLDeployError/Code/invalidArgument``.
    public func validate(for purpose: DefinitionPurpose) throws {
        try purpose.checkIdentity(name: self.name, version: self.version, kind: "service")
        if self.code != nil, self.handler != nil {
            throw MLDeployError.invalidArgument(
                "Service '\(self.name)' has both Python code and a Swift handler; give exactly one."
            )
        }
        if purpose == .deploy, self.code == nil, self.handler == nil {
            throw MLDeployError.invalidArgument(
                "Service '\(self.name)' has no code: give Python code or a Swift handler."
            )
        }
        if self.initCode != nil, self.handler != nil {
            throw MLDeployError.invalidArgument(
                "Service '\(self.name)' has init code and a Swift handler; init code runs only for Python services."
            )
        }
        if let code = self.code, code.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw MLDeployError.invalidArgument("Service '\(self.name)' has empty code.")
        }
        if let alias = self.effectiveAlias {
            try NameRules.checkIdentifier(alias, role: "alias")
        }
        try Self.checkParameters(self.inputs, role: "input", service: self.name)
        try Self.checkParameters(self.outputs, role: "output", service: self.name)
        for name in (self.models ?? [:]).keys.sorted() {
            try NameRules.checkIdentifier(name, role: "model")
        }
        for name in (self.objects ?? [:]).keys.sorted() {
            try NameRules.checkIdentifier(name, role: "object")
        }
        var artifacts = Set<String>()
        for artifact in self.artifacts ?? [] {
            try NameRules.checkArtifactName(artifact)
            if !artifacts.insert(artifact).inserted {
                throw MLDeployError.invalidArgument("Service '\(self.name)' declares artifact '\(artifact)' twice.")
            }
        }
    }

    static func checkParameters(_ parameters: [ParameterDefinition]?, role: String, service: String) throws {
        var seen = Set<String>()
        for parameter in parameters ?? [] {
            try NameRules.checkIdentifier(parameter.name, role: role)
            if !seen.insert(parameter.name).inserted {
                throw MLDeployError.invalidArgument("Service '\(service)' declares \(role) '\(parameter.name)' twice.")
            }
        }
    }
}

/// What a definition is about to be used for; validation differs.
public enum DefinitionPurpose: Sendable, Hashable {
    /// A new service version.
    case deploy
    /// A change to an existing service version.
    case redeploy

    /// Checks a definition's name and version; a redeploy needs the version.
    func checkIdentity(name: String, version: String?, kind: String) throws {
        try NameRules.checkServiceName(name)
        if let version {
            try NameRules.checkVersion(version)
        } else if self == .redeploy {
            throw MLDeployError(
                code: .missingVersion,
                message: "Redeploying \(kind) '\(name)' needs the version to change: give one (redeploying through a client without a version picks the latest)."
            )
        }
    }
}
