import Foundation
import Hummingbird
import Logging
import MLDeploy
import ServiceRuntime
import Synchronization

extension MLDeployServer {
    /// `GET /status` — ML Server's `StatusResponse`, 200 as soon as the server is up,
    /// with the backend and, for backends that run services here, the Python pool — and service
    /// pools (`/services/{name}/{version}/pool`, ML Server 9.3), mapped to the Python runtime's
    /// per-version pool sizes.
    func addStatusRoutes(to router: Router<ServerRequestContext>) {
        router.get("/status") { _, _ -> Response in
            var details: JSONObject = [
                "backend": .string(self.client.configuration.backendName), "capabilities": .string("\(self.client.capabilities)"),
            ]
            let local = await self.nodeDetails()
            for member in local { details[member.key] = member.value }
            // One child per live node (ML Server's compute nodes), each with its pool counters.
            var nodes = JSONObject()
            for (id, entry) in (try? await self.registry.liveNodes()) ?? [] {
                var nodeDetails = entry["details"]?.objectValue ?? [:]
                nodeDetails["node"] = .string(id)
                nodeDetails["heartbeat"] = entry["heartbeat"].map { .string(DotNetDate.format(Date(timeIntervalSince1970: $0.doubleValue ?? 0))) } ?? .null
                nodes[entry["url"]?.stringValue ?? id] = ["statusCode": "pass", "components": .null, "details": .object(nodeDetails)]
            }
            if nodes.isEmpty {
                var own = local
                own["node"] = .string(self.node)
                nodes[self.url] = ["statusCode": "pass", "components": .null, "details": .object(own)]
            }
            let health = await self.state.health()
            var database: JSONObject = [
                "type": .string(health.kind), "state": .string(health.healthy ? "Open" : "Unreachable"),
                "location": .string(self.state.location), "latencyMs": .double(Double(health.latency.components.attoseconds) / 1e15 + Double(health.latency.components.seconds) * 1000),
            ]
            for (key, value) in health.details { database[key] = .string(value) }
            let backend: JSONValue = ["statusCode": "pass", "components": .object(nodes), "details": .object(details)]
            return try Response.json([
                "statusCode": .string(health.healthy ? "pass" : "fail"),
                "components": ["backends": backend, "database": ["statusCode": .string(health.healthy ? "pass" : "fail"), "components": .null, "details": .object(database)]],
                "details": ["node": .string(self.node)],
            ])
        }
        router.get("/services/:name/:version/pool") { _, context -> Response in
            try await self.answering {
                let (python, info) = try await self.pooledService(context)
                let size = await python.poolSize(for: info.reference)
                let own = await python.hasOwnPoolSize(info.reference)
                let status = await python.status().versions.first { $0.service == info.reference }
                return try Response.json([[
                    "ComputeNodeEndpoint": "local", "Status": .string(own ? "Success" : "NotFound"),
                    "InitialPoolSize": .integer(size.minimum), "MaxPoolSize": .integer(size.maximum),
                    "CurrentPoolSize": .integer((status?.idle ?? 0) + (status?.busy ?? 0) + (status?.starting ?? 0)),
                    "ActiveShellCount": .integer(status?.busy ?? 0),
                ]])
            }
        }
        router.post("/services/:name/:version/pool") { request, context -> Response in
            var request = request
            let body = try await request.json(limit: 64 << 10)
            return try await self.answering {
                let (python, info) = try await self.pooledService(context)
                try Self.requireChange(of: info, context: context)
                guard let initial = body["InitialPoolSize"]?.intValue, let maximum = body["MaxPoolSize"]?.intValue else {
                    throw MLDeployError.invalidArgument("A pool takes {\"InitialPoolSize\": n, \"MaxPoolSize\": m}.")
                }
                try await python.setPoolSize(.init(minimum: initial, maximum: maximum), for: info.reference)
                // Every node sharing the state applies it at its next heartbeat.
                let key = info.name + "/" + info.version
                try await self.state.transaction { try await $0.set(key, json: ["InitialPoolSize": .integer(initial), "MaxPoolSize": .integer(maximum)], in: .poolSettings) }
                return try Response.json([["ComputeNodeEndpoint": "local", "Status": "Success"]])
            }
        }
        router.delete("/services/:name/:version/pool") { _, context -> Response in
            try await self.answering {
                let (python, info) = try await self.pooledService(context)
                try Self.requireChange(of: info, context: context)
                try await python.setPoolSize(nil, for: info.reference)
                let key = info.name + "/" + info.version
                try await self.state.transaction { try await $0.remove(key, in: .poolSettings) }
                return try Response.json([["ComputeNodeEndpoint": "local", "Status": "Success"]])
            }
        }
    }

    /// Applies the pool sizes set through any node (kept in the shared state) to this node's
    /// Python runtime, and resets those removed since: each node runs this at its heartbeat, so a
    /// pool size set through one node reaches the others within one heartbeat interval.
    func applySharedPoolSettings() async {
        guard self.state.isShared, let python = self.python, let entries = try? await self.state.jsonEntries(in: .poolSettings) else { return }
        var wanted: [ServiceReference: PythonRuntime.PoolSize] = [:]
        for (key, value) in entries {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let minimum = value["InitialPoolSize"]?.intValue, let maximum = value["MaxPoolSize"]?.intValue else { continue }
            wanted[ServiceReference(name: parts[0], version: parts[1])] = .init(minimum: minimum, maximum: maximum)
        }
        let applied = self.sharedPoolSizes.withLock { $0 }
        for (reference, size) in wanted {
            let current = await python.hasOwnPoolSize(reference)
            guard applied[reference] != size || !current else { continue }
            if (try? await python.setPoolSize(size, for: reference)) != nil { self.sharedPoolSizes.withLock { $0[reference] = size } }
        }
        for reference in applied.keys where wanted[reference] == nil {
            try? await python.setPoolSize(nil, for: reference)
            self.sharedPoolSizes.withLock { $0[reference] = nil }
        }
    }

    /// This node's Python pool counters and confinement, as `/status` and the node registry show them.
    func nodeDetails() async -> JSONObject {
        var details = JSONObject()
        guard let python = self.python else { return details }
        let status = await python.status()
        details["pythonInterpreter"] = .string(status.interpreter)
        details["pythonMaxPoolSize"] = .integer(status.maximumWorkers)
        details["pythonCurrentPoolSize"] = .integer(status.workers)
        details["pythonActiveShellCount"] = .integer(status.versions.reduce(0) { $0 + $1.busy } + status.sessionRuns)
        details["pythonQueuedCallCount"] = .integer(status.versions.reduce(0) { $0 + $1.queued } + status.sessionRunsQueued)
        details["pythonSessionRunCount"] = .integer(status.sessionRuns)
        details["pythonCanOpenShell"] = .string(status.workers < status.maximumWorkers ? "True" : "False")
        // Checked before the server started listening, so this is the kept answer.
        if let confinement = try? await python.checkConfinement() {
            details["pythonIsolation"] = .string(confinement.isolation.description)
            details["pythonWorkerUser"] = confinement.user.map(JSONValue.string) ?? .null
            details["pythonNetwork"] = confinement.network.map { .string($0.description) } ?? .null
            details["pythonTreeLimits"] = .string(confinement.treeLimits.rawValue)
        }
        return details
    }

    /// Checks that the backend's Python workers can be confined as configured (``run(onReady:)``
    /// does, before it listens) and logs how they are; `nil` when the backend runs no Python here.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` when isolation is
    ///   `sandbox` (the default) and this host cannot confine: the server must not start then,
    ///   unless `runtime.isolation: none` is chosen explicitly.
    @discardableResult
    public func checkConfinement() async throws -> PythonRuntime.Confinement? {
        guard let python = self.python else { return nil }
        let confinement = try await python.checkConfinement()
        if confinement.isolation == .none {
            self.logger.warning("Python workers are NOT confined (runtime.isolation: none): published code runs with this server's rights")
        } else {
            self.logger.info("Python workers confined", metadata: ["confinement": "\(confinement)"])
        }
        return confinement
    }

    /// The backend's Python runtime, when it runs services in this process with one.
    var python: PythonRuntime? {
        (self.client.backend as? any LocalRuntimeHosting)?.localRuntime.python
    }

    /// The Python runtime and the Python service a pool request names.
    private func pooledService(_ context: ServerRequestContext) async throws -> (PythonRuntime, ServiceInfo) {
        let info = try await self.client.getService(try context.pathParameter("name"), version: try context.pathParameter("version")).info
        guard let python = self.python else {
            throw MLDeployError(code: .unsupported, message: "This server's backend (\(self.client.configuration.backendName)) has no local Python pool to size.")
        }
        guard info.runtime == .python else {
            throw MLDeployError(code: .unsupported, message: "\(info.name)/\(info.version) is a \(info.runtime) service; only Python services have pools.")
        }
        return (python, info)
    }
}
