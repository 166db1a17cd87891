import Foundation
import Logging
import MLDeploy
import Synchronization

/// A backend served by a plugin process: the host side of the plugin protocol.
///
/// To the rest of the framework it is an ordinary ``MLDeploy/Backend`` — a ``MLDeploy/DeployClient``
/// drives its lifecycle, applies its checks and middleware, and the server serves it — while every
/// operation is a request to the `mldeploy-backend-<name>` process.
///
/// One backend instance owns one process: ``initialize(context:)`` starts it and answers the
/// handshake, ``shutdown()`` ends its whole process group. Separate clients therefore never share a
/// plugin's credentials, crashes or restarts. A process that died is started again on the next
/// operation (handshake, initialization and authentication replayed); the operation that was in
/// flight when it died fails with ``MLDeploy/MLDeployError/Code/pluginFailed``, since it may or may
/// not have taken effect. Repeated failures to start back off (``PluginSettings/restartBackoff``,
/// 0.25 s by default, doubling to 40 times that).
public final class PluginBackend: Backend {
    /// What the plugin said about itself in the handshake.
    public struct Handshake: Sendable, Hashable {
        /// The backend's name as the plugin reports it.
        public var name: String
        /// One line saying what the backend is.
        public var summary: String
        /// The protocol version both sides speak.
        public var protocolVersion: Int
        /// What the backend supports.
        public var capabilities: BackendCapabilities
    }

    private struct State {
        var connection: PluginConnection?
        var handshake: Handshake?
        var context: BackendContext?
        var credentials: AuthContext?
        var consecutiveFailures = 0
        var retryAt: ContinuousClock.Instant?
        var lastFailure: MLDeployError?
        var starting: Task<PluginConnection, any Error>?
        var shutDown = false
    }

    /// The plugin this backend runs.
    public let plugin: PluginDiscovery.Plugin
    /// The configuration handed to the plugin in the handshake.
    public let configuration: BackendConfiguration
    /// Timeouts and search settings.
    public let settings: PluginSettings
    private let state = Mutex(State())

    /// A backend for `plugin`, created from `configuration`. Nothing starts until
    /// ``initialize(context:)``.
    public init(plugin: PluginDiscovery.Plugin, configuration: BackendConfiguration, settings: PluginSettings = PluginSettings()) {
        self.plugin = plugin
        self.configuration = configuration
        self.settings = settings
    }

    /// What the plugin's handshake reported; empty until ``initialize(context:)``.
    public var capabilities: BackendCapabilities {
        self.state.withLock { $0.handshake?.capabilities ?? [] }
    }

    /// The plugin's handshake answer, once initialized.
    public var handshake: Handshake? { self.state.withLock { $0.handshake } }

    /// The plugin's process id while it runs (tests and operators watch it).
    public var processID: Int32? { self.state.withLock { $0.connection }?.processID }

    /// Starts the plugin, answers the handshake and initializes its backend.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pluginFailed`` when the plugin cannot be started,
    ///   speaks something else, exits or misses the handshake timeout; or the error the plugin's
    ///   backend refused its configuration with.
    public func initialize(context: BackendContext) async throws {
        self.state.withLock { $0.context = context }
        _ = try await self.liveConnection(for: "initialize")
    }

    /// Authenticates the plugin's backend; the credentials are kept to replay after a restart.
    public func authenticate(_ credentials: AuthContext) async throws {
        _ = try await self.request("backend/authenticate", PluginWire.credentials(credentials))
        self.state.withLock { $0.credentials = credentials }
    }

    /// Shuts the plugin's backend down, then ends the plugin's process group.
    public func shutdown() async throws {
        let connection = self.state.withLock { state -> PluginConnection? in
            state.shutDown = true
            return state.connection
        }
        guard let connection else { return }
        var failure: (any Error)?
        if !connection.hasExited {
            do {
                _ = try await connection.call("backend/shutdown", .object([:]), timeout: self.settings.callTimeout)
            } catch {
                failure = error
            }
        }
        await connection.terminate()
        if let failure { throw failure }
    }

    // MARK: Operations

    /// See ``MLDeploy/Backend/getService(_:version:)``.
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        try PluginWire.serviceInfo(try await self.request("service/get", ["name": .string(name), "version": version.map(JSONValue.string) ?? .null]))
    }

    /// See ``MLDeploy/Backend/listServices(_:)``.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        try PluginWire.serviceInfos(try await self.request("service/list", PluginWire.query(query)))
    }

    /// See ``MLDeploy/Backend/deleteService(_:version:)``.
    public func deleteService(_ name: String, version: String) async throws {
        _ = try await self.request("service/delete", ["name": .string(name), "version": .string(version)])
    }

    /// See ``MLDeploy/Backend/deployService(_:)``.
    public func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        var attachments = PluginWire.Attachments()
        let params = try PluginWire.definition(definition, &attachments)
        return try PluginWire.serviceInfo(try await self.request("service/deploy", params, attachments: attachments.list))
    }

    /// See ``MLDeploy/Backend/redeployService(_:)``.
    public func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        var attachments = PluginWire.Attachments()
        let params = try PluginWire.definition(definition, &attachments)
        return try PluginWire.serviceInfo(try await self.request("service/redeploy", params, attachments: attachments.list))
    }

    /// See ``MLDeploy/Backend/deployRealtime(_:)``.
    public func deployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        var attachments = PluginWire.Attachments()
        let params = PluginWire.realtime(definition, &attachments)
        return try PluginWire.serviceInfo(try await self.request("realtime/deploy", params, attachments: attachments.list))
    }

    /// See ``MLDeploy/Backend/redeployRealtime(_:)``.
    public func redeployRealtime(_ definition: RealtimeDefinition) async throws -> ServiceInfo {
        var attachments = PluginWire.Attachments()
        let params = PluginWire.realtime(definition, &attachments)
        return try PluginWire.serviceInfo(try await self.request("realtime/redeploy", params, attachments: attachments.list))
    }

    /// See ``MLDeploy/Backend/consume(_:)``.
    public func consume(_ request: ConsumeRequest) async throws -> ServiceResponse {
        let params: JSONValue = [
            "service": PluginWire.serviceInfo(request.service),
            "inputs": try PluginWire.inputs(request.inputs, schema: request.service.inputs),
        ]
        return try PluginWire.response(try await self.request("service/consume", params))
    }

    /// See ``MLDeploy/Backend/startBatch(_:)``.
    public func startBatch(_ request: BatchRequest) async throws -> String {
        let params: JSONValue = [
            "service": PluginWire.serviceInfo(request.service),
            "records": .array(try request.records.map { try PluginWire.inputs($0, schema: request.service.inputs) }),
            "parallelCount": .integer(request.parallelCount),
        ]
        guard let id = try await self.request("batch/start", params).stringValue else {
            throw PluginWire.invalid("batch/start must answer the execution id as a string")
        }
        return id
    }

    /// See ``MLDeploy/Backend/batchStatus(_:includeResults:)``.
    public func batchStatus(_ batch: BatchReference, includeResults: Bool) async throws -> BatchStatus {
        var params = PluginWire.batch(batch)
        params["includeResults"] = .bool(includeResults)
        return try PluginWire.status(try await self.request("batch/status", .object(params)))
    }

    /// See ``MLDeploy/Backend/listBatchExecutions(_:)``.
    public func listBatchExecutions(_ service: ServiceReference) async throws -> [String] {
        try PluginWire.strings(try await self.request("batch/list", PluginWire.reference(service)))
    }

    /// See ``MLDeploy/Backend/cancelBatch(_:)``.
    public func cancelBatch(_ batch: BatchReference) async throws {
        _ = try await self.request("batch/cancel", .object(PluginWire.batch(batch)))
    }

    /// See ``MLDeploy/Backend/batchArtifactNames(_:index:)``.
    public func batchArtifactNames(_ batch: BatchReference, index: Int) async throws -> [String] {
        var params = PluginWire.batch(batch)
        params["index"] = .integer(index)
        return try PluginWire.strings(try await self.request("batch/artifactNames", .object(params)))
    }

    /// See ``MLDeploy/Backend/batchArtifact(_:index:fileName:)``.
    public func batchArtifact(_ batch: BatchReference, index: Int, fileName: String) async throws -> Data {
        var params = PluginWire.batch(batch)
        params["index"] = .integer(index)
        params["fileName"] = .string(fileName)
        let (result, attachments) = try await self.requestWithAttachments("batch/artifact", .object(params), attachments: [])
        return try PluginWire.attachment(result, in: attachments, what: "the artifact")
    }

    /// The plugin's swagger document when it claims ``MLDeploy/BackendCapabilities/swagger``;
    /// otherwise one generated from the service's metadata, as for any backend that serves none.
    public func swagger(_ service: ServiceReference) async throws -> JSONValue {
        guard self.capabilities.contains(.swagger) else {
            return SwaggerDocument.make(for: try await self.getService(service.name, version: service.version))
        }
        return try await self.request("service/swagger", PluginWire.reference(service))
    }

    // MARK: The process

    private func request(_ method: String, _ params: JSONValue, attachments: [[UInt8]] = []) async throws -> JSONValue {
        try await self.requestWithAttachments(method, params, attachments: attachments).0
    }

    private func requestWithAttachments(_ method: String, _ params: JSONValue, attachments: [[UInt8]]) async throws -> (JSONValue, [[UInt8]]) {
        let connection = try await self.liveConnection(for: method)
        do {
            return try await connection.exchange(method, params, attachments: attachments, timeout: self.settings.callTimeout)
        } catch let undelivered as PluginConnection.NotDelivered {
            // The plugin died before it could read the request: nothing happened, so it is safe to
            // start the plugin again and send the request there, once.
            connection.kill()
            let fresh = try await self.liveConnection(for: method)
            guard fresh !== connection else { throw undelivered.failure }
            return try await fresh.call(method, params, attachments: attachments, timeout: self.settings.callTimeout)
        }
    }

    /// The running connection, started (or restarted) when there is none.
    private func liveConnection(for method: String) async throws -> PluginConnection {
        enum Next {
            case ready(PluginConnection)
            case wait(Task<PluginConnection, any Error>)
        }
        let next: Next = try self.state.withLock { state in
            if state.shutDown {
                throw MLDeployError(code: .clientShutDown, message: "The \(self.plugin.name) plugin backend was shut down; create a new client to \(method).")
            }
            if let connection = state.connection, connection.isUsable { return .ready(connection) }
            if let starting = state.starting { return .wait(starting) }
            if let retryAt = state.retryAt, retryAt > .now {
                let wait = retryAt - .now
                let last = state.lastFailure.map { " The last attempt failed: \($0.message)" } ?? ""
                throw MLDeployError(
                    code: .pluginFailed,
                    message: "The \(self.plugin.name) plugin (\(self.plugin.path)) failed to start \(state.consecutiveFailures) time(s) in a row; it is tried again in \(wait.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))).\(last)"
                )
            }
            let task = Task { try await self.connect() }
            state.starting = task
            return .wait(task)
        }
        switch next {
        case .ready(let connection):
            return connection
        case .wait(let task):
            return try await task.value
        }
    }

    /// Starts the process, answers the handshake and replays the lifecycle; records the outcome
    /// for the backoff.
    private func connect() async throws -> PluginConnection {
        let (context, credentials) = self.state.withLock { ($0.context, $0.credentials) }
        let logger = context?.logger ?? Logger(label: "mldeploy.backend.\(self.plugin.name)")
        do {
            let connection = try PluginConnection.start(self.plugin, logger: logger)
            do {
                let handshake = try await self.handshake(connection)
                self.state.withLock { $0.handshake = handshake }
                _ = try await connection.call("backend/initialize", .object([:]), timeout: self.settings.callTimeout)
                if let credentials {
                    _ = try await connection.call("backend/authenticate", PluginWire.credentials(credentials), timeout: self.settings.callTimeout)
                }
            } catch {
                await connection.terminate(grace: .zero)
                throw error
            }
            self.state.withLock { state in
                state.connection = connection
                state.starting = nil
                state.consecutiveFailures = 0
                state.retryAt = nil
                state.lastFailure = nil
            }
            return connection
        } catch {
            let failure = error as? MLDeployError ?? MLDeployError(code: .pluginFailed, message: "\(error)")
            self.state.withLock { state in
                state.starting = nil
                state.consecutiveFailures += 1
                state.lastFailure = failure
                let base = self.settings.restartBackoff
                state.retryAt = .now + min(base * Int(pow(2, Double(min(state.consecutiveFailures - 1, 8)))), base * 40)
            }
            throw failure
        }
    }

    private func handshake(_ connection: PluginConnection) async throws -> Handshake {
        try await Self.handshake(connection, params: Self.handshakeParams(self.plugin, self.configuration), timeout: self.settings.handshakeTimeout)
    }

    /// The handshake request's parameters: the protocol versions and host this side speaks, and the
    /// configuration the plugin creates its backend from.
    static func handshakeParams(_ plugin: PluginDiscovery.Plugin, _ configuration: BackendConfiguration) -> JSONValue {
        [
            "protocolVersions": ["minimum": .integer(BackendPlugin.protocolVersions.lowerBound), "maximum": .integer(BackendPlugin.protocolVersions.upperBound)],
            "host": ["name": "mldeploy", "version": .string(PluginHost.version)],
            "plugin": .string(plugin.name),
            "configuration": PluginWire.configuration(configuration),
        ]
    }

    /// Sends the handshake and checks its answer.
    static func handshake(_ connection: PluginConnection, params: JSONValue, timeout: Duration) async throws -> Handshake {
        let result: JSONValue
        do {
            result = try await connection.call("initialize", params, timeout: timeout).0
        } catch let error as MLDeployError where error.code == .pluginFailed && !connection.hasExited {
            throw MLDeployError(
                code: .pluginFailed,
                message: "The \(connection.plugin.name) plugin (\(connection.plugin.path)) did not answer the handshake within \(timeout) (plugins.handshake_timeout). Is it a backend plugin?"
                    + connection.tailNote
            )
        }
        guard let version = result["protocolVersion"]?.intValue, BackendPlugin.protocolVersions.contains(version) else {
            throw MLDeployError(
                code: .pluginFailed,
                message: "The \(connection.plugin.name) plugin answered the handshake with protocol version \(result["protocolVersion"].map { "\($0)" } ?? "none"); this host speaks \(BackendPlugin.protocolVersions.lowerBound)–\(BackendPlugin.protocolVersions.upperBound)."
            )
        }
        return Handshake(
            name: result["name"]?.stringValue ?? connection.plugin.name,
            summary: result["summary"]?.stringValue ?? "",
            protocolVersion: version,
            capabilities: PluginWire.capabilities(result["capabilities"])
        )
    }

    /// Starts `plugin`, reads its handshake for `configuration` (by default its bare name, as
    /// `--target <name>` gives it), and ends it: what `mldeploy backends` shows.
    public static func probe(_ plugin: PluginDiscovery.Plugin, configuration: BackendConfiguration? = nil, settings: PluginSettings = PluginSettings()) async throws -> Handshake {
        let connection = try PluginConnection.start(plugin, logger: Logger(label: "mldeploy.plugin.\(plugin.name)"))
        let configuration = configuration ?? BackendConfiguration(backendName: plugin.name)
        do {
            let handshake = try await Self.handshake(connection, params: Self.handshakeParams(plugin, configuration), timeout: settings.handshakeTimeout)
            await connection.terminate()
            return handshake
        } catch {
            await connection.terminate(grace: .zero)
            throw error
        }
    }
}

/// What the host says about itself in the handshake.
public enum PluginHost {
    /// The framework version a host reports to plugins.
    public static let version = "0.1.0"
}
