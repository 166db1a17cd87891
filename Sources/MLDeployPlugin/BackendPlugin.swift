import Foundation
import Logging
import MLDeploy
import ServiceRuntime
import Synchronization

/// The plugin side of the backend plugin protocol: serves one backend over standard input and
/// output to the host that started this executable.
///
/// A plugin is an executable named `mldeploy-backend-<name>` whose whole `main` is one line:
///
/// ```swift
/// import MLDeployPlugin
///
/// try await BackendPlugin.serve { configuration in try MyBackend(configuration: configuration) }
/// ```
///
/// Install it on `PATH` (or in a directory of `MLDEPLOY_PLUGIN_PATH`) and `mldeploy --target
/// <name>:…` reaches it. ``serve(name:summary:providers:_:)`` answers the handshake, creates the
/// backend from the configuration the host sends, and serves every `Backend` operation — many at
/// once, each in a task of its own, cancelled when the host cancels the call — until the host closes
/// the pipe; then it shuts the backend down and returns.
///
/// Standard output belongs to the protocol: before serving, descriptor 1 is pointed at standard
/// error, so `print` and swift-log's default handler write to the log the host forwards, never
/// into a message.
///
/// Swift handler services name their handler; the plugin resolves the name among the handlers
/// registered in `HandlerRegistry.shared` of this process, so register them before serving.
public enum BackendPlugin {
    /// The protocol versions this implementation speaks.
    public static let protocolVersions: ClosedRange<Int> = 1...1

    /// Serves one backend until the host closes standard input.
    ///
    /// - Parameters:
    ///   - name: The backend's name; by default the executable's name without `mldeploy-backend-`.
    ///   - summary: One line for `mldeploy backends`; by default the name and the backend's type.
    ///   - providers: Resources the backend expects in its context (an HTTP backend's client
    ///     provider), prepared before `initialize` and released after `shutdown`.
    ///   - factory: Creates the backend from the configuration the user's target describes.
    /// - Throws: When standard input or output cannot be used at all; operation failures are
    ///   answered to the host, never thrown.
    public static func serve(
        name: String? = nil,
        summary: String? = nil,
        providers: [any BackendContextProvider] = [],
        _ factory: @escaping @Sendable (BackendConfiguration) throws -> any Backend
    ) async throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "plugin").lastPathComponent
        let name = name ?? (executable.hasPrefix("mldeploy-backend-") ? String(executable.dropFirst("mldeploy-backend-".count)) : executable)
        // The protocol gets a descriptor of its own; descriptor 1 becomes standard error.
        let protocolOutput = dup(1)
        guard protocolOutput >= 0 else {
            throw MLDeployError(code: .pluginFailed, message: "The \(name) plugin could not duplicate its standard output: \(String(cString: strerror(errno))).")
        }
        _ = fcntl(protocolOutput, F_SETFD, FD_CLOEXEC)
        fflush(nil)  // every stream, standard output included
        dup2(2, 1)
        let server = PluginServer(name: name, summary: summary, providers: providers, factory: factory, output: PipeWriter(protocolOutput, name: "mldeploy-plugin-stdout"))
        await server.run(input: dup(0))
    }
}

/// The state of one served plugin: the backend, its context, and the requests in flight.
final class PluginServer: Sendable {
    private struct State {
        var backend: (any Backend)?
        var context: BackendContext?
        var initialized = false
        var running: [Int: Task<Void, Never>] = [:]
        var cancelled: Set<Int> = []
    }

    let name: String
    let summary: String?
    let providers: [any BackendContextProvider]
    let factory: @Sendable (BackendConfiguration) throws -> any Backend
    let output: PipeWriter
    let logger: Logger
    let loop = PluginRunLoop()
    private let state = Mutex(State())

    init(name: String, summary: String?, providers: [any BackendContextProvider], factory: @escaping @Sendable (BackendConfiguration) throws -> any Backend, output: PipeWriter) {
        self.name = name
        self.summary = summary
        self.providers = providers
        self.factory = factory
        self.output = output
        self.logger = Logger(label: "mldeploy.plugin.\(name)")
    }

    /// Reads and dispatches messages until the end of input, then shuts the backend down.
    ///
    /// Messages are parsed on the loop thread, and each request's task prefers that thread as its
    /// executor (``PluginRunLoop``), so a request costs the one wake-up its read needs.
    func run(input descriptor: Int32) async {
        let (ended, end) = AsyncStream<Void>.makeStream()
        let parser = PluginMessageParser()
        self.loop.start(reading: descriptor, name: "mldeploy-plugin-loop", { chunk in
            switch parser.parse(chunk) {
            case .messages(let messages):
                for message in messages { self.dispatch(message) }
            case .broken(let messages, let excerpt):
                for message in messages { self.dispatch(message) }
                let error = MLDeployError(code: .invalidResponse, message: "The host sent bytes that are not a plugin protocol message: '\(excerpt)'.")
                Task { await self.send(.error(id: nil, rpcCode: PluginRPCError.parseError, error)) }
            case .ignored:
                break
            }
        }, end: { end.finish() })
        for await _ in ended {}
        // End of input: the host is gone or done. Finish what runs, then release the backend.
        let tasks = self.state.withLock { Array($0.running.values) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        try? await self.shutDownBackend()
        self.output.close()
        self.loop.stop()
    }

    private func dispatch(_ message: PluginMessage) {
        guard let method = message.method else { return }  // an answer: the host sends none we wait for
        if method == "$/cancelRequest" {
            if let id = message.params["id"]?.intValue {
                let task = self.state.withLock { state -> Task<Void, Never>? in
                    state.cancelled.insert(id)
                    return state.running[id]
                }
                task?.cancel()
            }
            return
        }
        guard let id = message.id else { return }  // other notifications: none defined yet
        let task = Task(executorPreference: self.loop) {
            let answer: PluginMessage
            do {
                let (result, attachments) = try await self.handle(method, message)
                answer = .result(id: id, result, attachments: attachments)
            } catch let error as PluginServerError {
                answer = .error(id: id, rpcCode: error.rpcCode, MLDeployError(code: error.code, message: error.message))
            } catch let error as MLDeployError {
                answer = .error(id: id, error)
            } catch is CancellationError {
                answer = .error(id: id, rpcCode: PluginRPCError.requestCancelled, MLDeployError(code: .cancelled, message: "The operation was cancelled."))
            } catch {
                answer = .error(id: id, MLDeployError(code: .backendFailure, message: "\(error)"))
            }
            self.state.withLock { state in
                state.running[id] = nil
                state.cancelled.remove(id)
            }
            await self.send(answer)
        }
        let cancelledAlready = self.state.withLock { state -> Bool in
            state.running[id] = task
            return state.cancelled.contains(id)
        }
        if cancelledAlready { task.cancel() }
    }

    private func send(_ message: PluginMessage) async {
        do {
            try await self.output.write(try message.encoded())
        } catch {
            self.logger.error("could not answer the host: \(error)")
        }
    }

    private func backend() throws -> any Backend {
        guard let backend = self.state.withLock({ $0.backend }) else {
            throw PluginServerError(rpcCode: PluginRPCError.invalidRequest, code: .pluginFailed, message: "The handshake (initialize) must come first.")
        }
        return backend
    }

    private func handle(_ method: String, _ message: PluginMessage) async throws -> (JSONValue, [[UInt8]]) {
        let params = message.params
        let attachments = message.attachments
        switch method {
        case "initialize":
            return (try self.handshake(params), [])
        case "backend/initialize":
            let backend = try self.backend()
            guard var context = self.state.withLock({ $0.context }) else { throw PluginServerError(rpcCode: PluginRPCError.invalidRequest, code: .pluginFailed, message: "No configuration: the handshake must carry one.") }
            for provider in self.providers { try await provider.prepare(&context) }
            try await backend.initialize(context: context)
            self.state.withLock { state in
                state.context = context
                state.initialized = true
            }
            return (.null, [])
        case "backend/authenticate":
            try await self.backend().authenticate(try PluginWire.credentials(params))
            return (.null, [])
        case "backend/shutdown":
            _ = try self.backend()
            try await self.shutDownBackend()
            return (.null, [])
        case "service/get":
            let info = try await self.backend().getService(try PluginWire.string(params, "name"), version: PluginWire.optionalString(params, "version"))
            return (PluginWire.serviceInfo(info), [])
        case "service/list":
            let list = try await self.backend().listServices(PluginWire.query(params))
            return (.array(list.map(PluginWire.serviceInfo)), [])
        case "service/delete":
            try await self.backend().deleteService(try PluginWire.string(params, "name"), version: try PluginWire.string(params, "version"))
            return (.null, [])
        case "service/deploy", "service/redeploy":
            let definition = try PluginWire.definition(params, attachments, handler: Self.handler(named:))
            let backend = try self.backend()
            let info = method == "service/deploy" ? try await backend.deployService(definition) : try await backend.redeployService(definition)
            return (PluginWire.serviceInfo(info), [])
        case "realtime/deploy", "realtime/redeploy":
            let definition = try PluginWire.realtime(params, attachments)
            let backend = try self.backend()
            let info = method == "realtime/deploy" ? try await backend.deployRealtime(definition) : try await backend.redeployRealtime(definition)
            return (PluginWire.serviceInfo(info), [])
        case "service/consume":
            let service = try PluginWire.serviceInfo(params["service"] ?? .null)
            let request = ConsumeRequest(service: service, inputs: try PluginWire.inputs(params["inputs"], schema: service.inputs))
            return (PluginWire.response(try await self.backend().consume(request)), [])
        case "service/swagger":
            return (try await self.backend().swagger(try PluginWire.reference(params)), [])
        case "batch/start":
            let service = try PluginWire.serviceInfo(params["service"] ?? .null)
            let records = try (params["records"]?.arrayValue ?? []).map { try PluginWire.inputs($0, schema: service.inputs) }
            let request = BatchRequest(service: service, records: records, parallelCount: params["parallelCount"]?.intValue ?? 1)
            return (.string(try await self.backend().startBatch(request)), [])
        case "batch/status":
            let status = try await self.backend().batchStatus(try PluginWire.batch(params), includeResults: params["includeResults"]?.boolValue ?? false)
            return (PluginWire.status(status), [])
        case "batch/list":
            return (.array(try await self.backend().listBatchExecutions(try PluginWire.reference(params)).map(JSONValue.string)), [])
        case "batch/cancel":
            try await self.backend().cancelBatch(try PluginWire.batch(params))
            return (.null, [])
        case "batch/artifactNames":
            let names = try await self.backend().batchArtifactNames(try PluginWire.batch(params), index: try Self.index(params))
            return (.array(names.map(JSONValue.string)), [])
        case "batch/artifact":
            let bytes = try await self.backend().batchArtifact(try PluginWire.batch(params), index: try Self.index(params), fileName: try PluginWire.string(params, "fileName"))
            var out = PluginWire.Attachments()
            return (out.add(bytes), out.list)
        default:
            throw PluginServerError(rpcCode: PluginRPCError.methodNotFound, code: .unsupported, message: "Unknown method '\(method)'.")
        }
    }

    /// The *destructor* stage, once: the backend's shutdown, then its context providers released.
    /// Asked for by the host, or run at the end of input when the host did not ask.
    private func shutDownBackend() async throws {
        let (backend, context) = self.state.withLock { state -> ((any Backend)?, BackendContext?) in
            guard state.initialized else { return (nil, nil) }
            state.initialized = false
            return (state.backend, state.context)
        }
        guard let backend else { return }
        var failure: (any Error)?
        do {
            try await backend.shutdown()
        } catch {
            failure = error
        }
        if let context { for provider in self.providers.reversed() { await provider.release(context) } }
        if let failure { throw failure }
    }

    private func handshake(_ params: JSONValue) throws -> JSONValue {
        let minimum = params["protocolVersions"]?["minimum"]?.intValue ?? 1
        let maximum = params["protocolVersions"]?["maximum"]?.intValue ?? minimum
        let range = BackendPlugin.protocolVersions
        let chosen = min(maximum, range.upperBound)
        guard chosen >= minimum, chosen >= range.lowerBound else {
            throw PluginServerError(
                rpcCode: PluginRPCError.backendFailure, code: .pluginFailed,
                message: "The \(self.name) plugin speaks protocol versions \(range.lowerBound)–\(range.upperBound); the host asks for \(minimum)–\(maximum). Upgrade the older of the two."
            )
        }
        var capabilities: BackendCapabilities = []
        var summary = self.summary ?? "Backend plugin \(self.name)"
        if let json = params["configuration"], !json.isNull {
            let configuration = try PluginWire.configuration(json)
            let backend = try self.factory(configuration)
            capabilities = backend.capabilities
            if self.summary == nil { summary = "\(self.name) (\(String(describing: type(of: backend))), served by a plugin)" }
            let context = BackendContext(configuration: configuration, logger: Logger(label: "mldeploy.backend.\(configuration.backendName)"))
            self.state.withLock { state in
                state.backend = backend
                state.context = context
            }
        }
        return [
            "name": .string(self.name), "summary": .string(summary), "protocolVersion": .integer(chosen),
            "capabilities": PluginWire.capabilities(capabilities),
        ]
    }

    private static func index(_ params: JSONValue) throws -> Int {
        guard let index = params["index"]?.intValue else { throw PluginWire.invalid("'index' must be an integer") }
        return index
    }

    private static func handler(named name: String) throws -> ServiceHandler {
        guard let handler = HandlerRegistry.shared.handler(named: name) else {
            throw MLDeployError(
                code: .unresolvedHandler,
                message: "The Swift handler '\(name)' is not registered in this plugin. Register it with HandlerRegistry.shared.register(_:) before BackendPlugin.serve."
            )
        }
        return handler
    }
}

/// A protocol-level refusal: its JSON-RPC code and the framework code the host sees.
struct PluginServerError: Error {
    var rpcCode: Int
    var code: MLDeployError.Code
    var message: String
}
