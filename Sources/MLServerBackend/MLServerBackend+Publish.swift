import Foundation
import Logging
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// Publishes a Python service with the Python SDK's request sequence: a session, its
    /// workspace objects, a snapshot, `POST /services/{name}[/{version}]`, then the session and the
    /// snapshot deleted — also when a step fails. A service with no objects is published without a
    /// session (the snapshot is optional on the server; three round trips fewer).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` for a Swift handler (it runs in-process,
    ///   not on a server); ``MLDeploy/MLDeployError/Code/conflict`` when the version exists; the
    ///   server's errors otherwise.
    public func deployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .deploy)
        try self.requirePython(definition)
        let namespace = definition.namespace
        let version = try await self.withSnapshot(of: namespace) { snapshotID in
            let body = Self.publishBody(definition, snapshotID: snapshotID, purpose: .deploy)
            if let version = definition.version {
                do {
                    try await self.send(.post, Self.path("services", definition.name, version), json: body, idempotent: false)
                } catch let error as MLDeployError where error.httpStatus == 403 || error.code == .conflict {
                    // ML Server answers 403 for "a web service with the same name and version exists".
                    if (try? await self.listServices(.version(name: definition.name, version: version)))?.isEmpty == false {
                        throw MLDeployError.conflict(name: definition.name, version: version)
                    }
                    throw error
                }
                return version
            }
            let answer = try await self.sendJSON(.post, Self.path("services", definition.name), json: body, idempotent: false)
            guard let generated = answer.stringValue, !generated.isEmpty else {
                throw MLDeployError(code: .invalidResponse, message: "Publishing \(definition.name) without a version answered \(answer), not the generated version.")
            }
            return generated
        }
        return try await self.getService(definition.name, version: version)
    }

    /// Updates a version with `PATCH /services/{name}/{version}`, sending only what the definition
    /// gives. Objects or models, when given, go through a new session and snapshot that replaces
    /// the service's whole workspace; when neither is given no snapshot is sent, so the service keeps
    /// its objects (the Python SDK always sends a new, usually empty, snapshot, which drops them).
    public func redeployService(_ definition: ServiceDefinition) async throws -> ServiceInfo {
        try definition.validate(for: .redeploy)
        try self.requirePython(definition)
        guard let version = definition.version else { throw MLDeployError(code: .missingVersion, message: "Redeploying needs a version.") }
        let path = Self.path("services", definition.name, version)
        let patch: (String?) async throws -> Void = { snapshotID in
            _ = try await self.send(.patch, path, json: Self.publishBody(definition, snapshotID: snapshotID, purpose: .redeploy))
        }
        do {
            if definition.objects != nil || definition.models != nil {
                try await self.withSnapshot(of: definition.namespace, always: true, patch)
            } else {
                try await patch(nil)
            }
        } catch let error as MLDeployError where error.code == .notFound {
            throw MLDeployError.serviceNotFound(name: definition.name, version: version)
        }
        return try await self.getService(definition.name, version: version)
    }

    func requirePython(_ definition: ServiceDefinition) throws {
        if definition.handler != nil {
            throw MLDeployError(
                code: .unsupported,
                message: "Service \(definition.name) has a Swift handler, which runs in the process that defines it; the MLServer backend publishes Python code. Deploy it to a local backend (memory, file) — `mldeploy serve` can serve it from there."
            )
        }
    }

    /// The `PublishWebServiceRequest` / `PatchRequest` body: fields in the SDK's order,
    /// absent values omitted. A deploy always sends both parameter lists and the runtime type.
    static func publishBody(_ definition: ServiceDefinition, snapshotID: String?, purpose: DefinitionPurpose) -> JSONValue {
        func parameters(_ list: [ParameterDefinition]?) -> JSONValue? {
            guard let list = list ?? (purpose == .deploy ? [] : nil) else { return nil }
            return .array(list.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] })
        }
        var body = JSONObject()
        let fields: [(String, JSONValue?)] = [
            ("snapshotId", snapshotID.map(JSONValue.string)),
            ("code", definition.code.map(JSONValue.string)),
            ("description", definition.description.map(JSONValue.string)),
            ("operationId", definition.alias.map(JSONValue.string)),
            ("inputParameterDefinitions", parameters(definition.inputs)),
            ("outputParameterDefinitions", parameters(definition.outputs)),
            ("runtimeType", "Python"),
            ("initCode", definition.initCode.map(JSONValue.string)),
            ("outputFileNames", definition.artifacts.map { .array($0.map(JSONValue.string)) }),
        ]
        for (key, value) in fields {
            if let value { body.append(key, value) }
        }
        return .object(body)
    }

    // MARK: Sessions and snapshots

    /// Runs `body` with a snapshot of `objects` (or with `nil` when there are none and `always` is
    /// false), deleting the session and the snapshot afterwards whatever happens — in a task of their
    /// own, so a cancelled caller does not leak them on the server.
    @discardableResult
    func withSnapshot<T: Sendable>(of objects: [String: ServiceObject], always: Bool = false, _ body: (String?) async throws -> T) async throws -> T {
        guard always || !objects.isEmpty else { return try await body(nil) }
        let created = try await self.sendJSON(.post, "/sessions", json: ["runtimeType": "Python"], idempotent: false)
        guard let session = created["sessionId"]?.stringValue else {
            throw MLDeployError(code: .invalidResponse, message: "POST /sessions answered \(created) without a sessionId.")
        }
        var snapshot: String?
        do {
            try await self.upload(objects, to: session)
            let frozen = try await self.sendJSON(.post, Self.path("sessions", session, "snapshot"), json: ["name": .null], idempotent: false)
            guard let id = frozen["snapshotId"]?.stringValue else {
                throw MLDeployError(code: .invalidResponse, message: "POST /sessions/\(session)/snapshot answered \(frozen) without a snapshotId.")
            }
            snapshot = id
            let result = try await body(id)
            await self.cleanUp(session: session, snapshot: id)
            return result
        } catch {
            await self.cleanUp(session: session, snapshot: snapshot)
            throw error
        }
    }

    /// Pickled objects are uploaded as they are (`POST /sessions/{id}/workspace/{name}`, raw bytes);
    /// simple values are materialized by executing generated Python in the session.
    private func upload(_ objects: [String: ServiceObject], to session: String) async throws {
        var values: [(String, MLValue)] = []
        for (name, object) in objects.sorted(by: { $0.key < $1.key }) {
            switch object {
            case .pickled(let bytes):
                try await self.send(
                    .post, Self.path("sessions", session, "workspace", name), body: .data(bytes), contentType: "application/octet-stream", idempotent: true
                )
            case .value(let value):
                values.append((name, value))
            }
        }
        guard !values.isEmpty else { return }
        let request = try PythonMaterialization.executeRequest(values)
        let answer = try await self.sendJSON(.post, Self.path("sessions", session, "execute"), json: request, idempotent: true)
        guard answer["success"]?.boolValue == true else {
            throw MLDeployError.invalidArgument(
                "The server could not materialize the objects \(values.map(\.0).joined(separator: ", ")) in its Python session: \(answer["errorMessage"]?.stringValue ?? "\(answer)")"
            )
        }
    }

    private func cleanUp(session: String, snapshot: String?) async {
        let logger = self.state.logger
        await Task {
            for path in [Self.path("sessions", session)] + (snapshot.map { [Self.path("snapshots", $0)] } ?? []) {
                do {
                    try await self.send(.delete, path)
                } catch {
                    logger.warning("could not clean up after publishing", metadata: ["path": "\(path)", "error": "\(error)"])
                }
            }
        }.value
    }
}
