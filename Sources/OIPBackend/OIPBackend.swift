import Foundation
import Logging
import MLDeploy
import MLDeployHTTP
import Synchronization

/// Deploys to and calls any server that speaks the Open Inference Protocol (KServe V2).
///
/// Every server gets the read side: `listServices` (the server's repository index, else the
/// `models` option's names), `getService` (model metadata as service metadata) and `consume`
/// (infer, the service's values as tensors). Publishing and deleting work two ways:
/// - **Seldon MLServer** (the `repository` option): its repository API only loads what is on its
///   disk, so the backend writes `<repository>/<name>/<version>/model-settings.json` and the files,
///   then asks the server to load the model; delete unloads it and removes the folder.
/// - **NVIDIA Triton** (found by its server metadata, no option needed): the model's configuration
///   and files travel in the load request itself (`config` and `file:` parameters), run by Triton's
///   Python backend.
///
/// Options (query string of the URI, or the target's options): `repository` (MLServer's model
/// repository directory, shared with the server), `models` (comma-separated model names to list
/// when the server has no repository index), `python_path` (colon-separated directories Triton's
/// Python backend should search for numpy, pandas and onnxruntime — it ignores `PYTHONPATH`).
public final class OIPBackend: ConfigurableBackend {
    /// The server's base URL (`http://host:port`).
    public let baseURL: String
    /// MLServer's model repository, when this backend publishes to it.
    public let repository: URL?
    /// Models to list when the server has no repository index.
    public let configuredModels: [String]
    /// Directories the runtime published to Triton puts first on the Python path.
    public let pythonPath: [String]
    let state = Mutex<(http: HTTPClient?, owned: Bool, logger: Logger)>((nil, false, Logger(label: "mldeploy.backend.oip")))
    /// The server's metadata (`GET /v2`: its name and extensions), once read.
    let serverMetadata = Mutex<JSONValue?>(nil)
    /// Serializes changes to one Triton model made through this backend.
    let modelLocks = ModelLocks()

    /// What publishing supports here: Python services and ONNX models with a repository (MLServer)
    /// or on Triton (known once the server's metadata was read, which ``initialize(context:)`` tries).
    public var capabilities: BackendCapabilities {
        self.repository != nil || self.serverMetadata.withLock({ $0 }).map(Self.isTriton) == true ? [.pythonServices, .realtime] : []
    }

    /// The options this backend reads; any other is an error naming these.
    public static let knownOptions = ["repository", "models", "python_path"]

    /// Creates the backend from `oip+http://HOST:PORT` (or `oip+https`) and its options.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` for another scheme, an address
    ///   that is not http(s), or an option it does not know (naming the ones it does).
    public init(configuration: BackendConfiguration) throws {
        let options = configuration.options
        let address = try configuration.httpBaseURL(schemePrefix: "oip", backend: "oip", example: "127.0.0.1:8080")
        try BackendRegistration.oip.checkOptions(options)  // also when made without the registry
        self.baseURL = address
        self.repository = options["repository"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
        self.configuredModels = (options["models"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.pythonPath = (options["python_path"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// Takes the HTTP client the context carries (or makes one), and reads the server's metadata if
    /// it answers (so ``capabilities`` can say whether it is a Triton this backend publishes to).
    public func initialize(context: BackendContext) async throws {
        if let http = context[HTTPClientKey.self] {
            self.state.withLock { $0 = (http, false, context.logger) }
        } else {
            self.state.withLock { $0 = (HTTPClient(logger: context.logger), true, context.logger) }
        }
        _ = try? await self.server()
    }

    /// The server's metadata (`GET /v2`), read once; a failed read is tried again next time.
    func server() async throws -> JSONValue {
        if let known = self.serverMetadata.withLock({ $0 }) { return known }
        let metadata = try await self.json(.get, "/v2")
        self.serverMetadata.withLock { $0 = metadata }
        return metadata
    }

    /// Whether server metadata is Triton's (`"name": "triton"`).
    static func isTriton(_ metadata: JSONValue) -> Bool { metadata["name"]?.stringValue == "triton" }

    /// Whether the server is a Triton this backend publishes to: one without the `repository`
    /// option (with it, the repository is written as for MLServer).
    func publishesToTriton() async -> Bool {
        guard self.repository == nil, let metadata = try? await self.server() else { return false }
        return Self.isTriton(metadata)
    }

    /// Bearer tokens for servers that ask for them: a token as given, or — with a user name and
    /// password — `mldeploy serve`'s login.
    public func authenticate(_ credentials: AuthContext) async throws {
        let http = try self.http
        if let token = credentials.accessToken {
            http.authentication.use(StaticTokenSource(token))
        } else if let (username, password) = credentials.passwordCredentials, let base = URL(string: self.baseURL) {
            http.authentication.use(LoginTokenSource(baseURL: base, username: username, password: password))
            _ = try await http.authentication.authenticate()
        }
    }

    /// Shuts the HTTP client down when the backend made it.
    public func shutdown() async throws {
        let (http, owned) = self.state.withLock { ($0.http, $0.owned) }
        if owned { await http?.shutdown() }
    }

    /// The HTTP client, once initialized.
    var http: HTTPClient {
        get throws {
            guard let http = self.state.withLock({ $0.http }) else {
                throw MLDeployError(code: .clientShutDown, message: "The OIP backend was not initialized (use it through a DeployClient).")
            }
            return http
        }
    }
}
