import Foundation
import Hummingbird
import MLDeploy
import ServiceRuntime

extension ServerRequestContext {
    /// The authenticated user and whether they are an Owner (who may use anyone's sessions).
    var identity: (user: String, isOwner: Bool) { (self.user ?? "", self.role == .owner) }
}

extension MLDeployServer {
    /// Sessions, workspace objects and snapshots, as the SDK's publish flow uses them.
    func addSessionRoutes(to router: Router<ServerRequestContext>) {
        let sessions = self.sessions
        router.post("/sessions") { request, context -> Response in
            var request = request
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
            let (user, isOwner) = context.identity
            guard case .object = body else { throw MLDeployError.invalidArgument("A session request must be a JSON object (CreateSessionRequest).") }
            let runtime = try body.stringMember("runtimeType") ?? "R"
            guard runtime == "Python" else {
                throw ServerError(.badRequest, "This server runs Python sessions only; send \"runtimeType\": \"Python\".", exceptionType: "unsupported")
            }
            return try await self.answering {
                let snapshotID = try body.stringMember("snapshotId")
                var snapshot: SessionStore.Snapshot?
                if let snapshotID { snapshot = try await sessions.snapshot(snapshotID, user: user, isOwner: isOwner) }
                let id = try await sessions.createSession(owner: user, name: try body.stringMember("name"), runtimeType: runtime, from: snapshot)
                return try Response.json(["sessionId": .string(id)], status: .created)
            }
        }
        router.get("/sessions") { _, context -> Response in
            let (user, isOwner) = context.identity
            return try await self.answering {
                try Response.json(.array(try await sessions.sessions(visibleTo: user, isOwner: isOwner).map { session in
                    ["id": .string(session.id), "name": session.name.map(JSONValue.string) ?? .null, "owner": .string(session.owner), "runtimeType": .string(session.runtimeType)]
                }))
            }
        }
        for path in ["/sessions/:id", "/sessions/:id/force"] {
            router.delete(RouterPath(path)) { _, context -> Response in
                let id = try context.pathParameter("id")
                let (user, isOwner) = context.identity
                return try await self.answering {
                    try await sessions.deleteSession(id, user: user, isOwner: isOwner)
                    return try Response.json(.string(id))
                }
            }
        }
        router.get("/sessions/:id/workspace") { _, context -> Response in
            let id = try context.pathParameter("id")
            let (user, isOwner) = context.identity
            return try await self.answering {
                try Response.json(.array(try await sessions.objectNames(session: id, user: user, isOwner: isOwner).map(JSONValue.string)))
            }
        }
        router.post("/sessions/:id/workspace/:object") { request, context -> Response in
            var request = request
            let (id, object) = (try context.pathParameter("id"), try context.pathParameter("object"))
            let (user, isOwner) = context.identity
            // The session, the caller's right to it and the quota first, then the body.
            let declared = request.headers[.contentLength].flatMap(Int.init)
            do {
                try await self.answering { try await sessions.checkUpload(object, declaredSize: declared, session: id, user: user, isOwner: isOwner) }
            } catch let error as ServerError {
                throw context.refusingUnreadBody(error, of: request)
            }
            let bytes = try await request.spooledBody(limit: self.configuration.maximumUploadSize, directory: self.uploadDirectory)
            guard !bytes.isEmpty else {
                throw MLDeployError.invalidArgument("A workspace object needs its pickled bytes as the request body; the body was empty.")
            }
            return try await self.answering {
                try await sessions.putObject(object, bytes, session: id, user: user, isOwner: isOwner)
                return .empty()
            }
        }
        router.get("/sessions/:id/workspace/:object") { _, context -> Response in
            let (id, object) = (try context.pathParameter("id"), try context.pathParameter("object"))
            let (user, isOwner) = context.identity
            return try await self.answering {
                let bytes = try await sessions.object(object, session: id, user: user, isOwner: isOwner)
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        router.delete("/sessions/:id/workspace/:object") { _, context -> Response in
            let (id, object) = (try context.pathParameter("id"), try context.pathParameter("object"))
            let (user, isOwner) = context.identity
            return try await self.answering {
                try await sessions.removeObject(object, session: id, user: user, isOwner: isOwner)
                return .empty()
            }
        }
        router.post("/sessions/:id/execute") { request, context -> Response in
            var request = request
            let id = try context.pathParameter("id")
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize)
            let (user, isOwner) = context.identity
            return try await self.answering {
                let (code, inputs, outputs) = try Self.executeRequest(body)
                guard let python = self.python else {
                    throw MLDeployError(code: .unsupported, message: "This server's backend runs no Python here, so sessions cannot execute code.")
                }
                let workspace = try await sessions.beginExecution(session: id, user: user, isOwner: isOwner)
                let outcome: PythonExecution
                do {
                    outcome = try await self.calls.run(for: user) {
                        try await python.execute(code: code, workspace: workspace, inputs: inputs, outputs: outputs)
                    }
                } catch {
                    try await sessions.endExecution(session: id, code: code, outcome: nil)
                    throw error
                }
                try await sessions.endExecution(session: id, code: code, outcome: outcome)
                return try Response.json([
                    "success": .bool(outcome.succeeded), "errorMessage": .string(outcome.errorMessage),
                    "outputParameters": .array(outcome.outputs.map { ["name": .string($0.name), "value": $0.value] }),
                    "consoleOutput": .string(outcome.consoleOutput), "changedFiles": .array(outcome.changedFiles.map(JSONValue.string)),
                ])
            }
        }
        router.get("/sessions/:id/console-output") { _, context -> Response in
            let id = try context.pathParameter("id")
            let (user, isOwner) = context.identity
            return try await self.answering {
                try Response.json(["consoleOutput": .string(try await sessions.session(id, user: user, isOwner: isOwner).consoleOutput)])
            }
        }
        router.get("/sessions/:id/history") { _, context -> Response in
            let id = try context.pathParameter("id")
            let (user, isOwner) = context.identity
            return try await self.answering {
                try Response.json(.array(try await sessions.session(id, user: user, isOwner: isOwner).history.map(JSONValue.string)))
            }
        }
        router.post("/sessions/:id/snapshot") { request, context -> Response in
            var request = request
            let id = try context.pathParameter("id")
            let body = try await request.json(limit: self.configuration.maximumJSONBodySize, emptyIsObject: true)
            guard case .object = body else { throw MLDeployError.invalidArgument("A snapshot request is a JSON object ({\"name\": …}) or no body.") }
            let (user, isOwner) = context.identity
            return try await self.answering {
                let snapshot = try await sessions.snapshot(session: id, name: try body.stringMember("name"), user: user, isOwner: isOwner)
                return try Response.json(["snapshotId": .string(snapshot)], status: .created)
            }
        }
        router.post("/sessions/:id/loadsnapshot/:snapshot") { _, context -> Response in
            let (id, snapshot) = (try context.pathParameter("id"), try context.pathParameter("snapshot"))
            let (user, isOwner) = context.identity
            return try await self.answering {
                try await sessions.load(snapshot: snapshot, into: id, user: user, isOwner: isOwner)
                return .empty()
            }
        }
        router.get("/snapshots") { _, context -> Response in
            let (user, isOwner) = context.identity
            return try await self.answering {
                try Response.json(.array(try await sessions.snapshots(visibleTo: user, isOwner: isOwner).map { snapshot in
                    [
                        "id": .string(snapshot.id), "name": snapshot.name.map(JSONValue.string) ?? .null, "owner": .string(snapshot.owner),
                        "creationTime": .string(DotNetDate.format(snapshot.creationTime)), "contentSize": .integer(snapshot.contentSize),
                    ]
                }))
            }
        }
        router.delete("/snapshots/:id") { _, context -> Response in
            let id = try context.pathParameter("id")
            let (user, isOwner) = context.identity
            return try await self.answering {
                try await sessions.deleteSnapshot(id, user: user, isOwner: isOwner)
                return try Response.json(.string(id))
            }
        }
    }

    /// The fields of ML Server's `ExecuteRequest`: `code`, then optional `inputParameters`
    /// (`[{name, value}]`) and `outputParameters` (names); the SDK sends `null` for both.
    static func executeRequest(_ body: JSONValue) throws -> (code: String, inputs: [(name: String, value: JSONValue)], outputs: [String]) {
        guard let code = body["code"]?.stringValue else {
            throw MLDeployError.invalidArgument("An execute request needs \"code\": a string of Python.")
        }
        var inputs: [(name: String, value: JSONValue)] = []
        switch body["inputParameters"] {
        case nil, .null?: break
        case .array(let entries)?:
            for entry in entries {
                guard let name = entry["name"]?.stringValue else {
                    throw MLDeployError.invalidArgument("Each of \"inputParameters\" is {\"name\": …, \"value\": …}.")
                }
                try NameRules.checkIdentifier(name, role: "input parameter")
                inputs.append((name, entry["value"] ?? .null))
            }
        default: throw MLDeployError.invalidArgument("\"inputParameters\" is a list of {\"name\", \"value\"}.")
        }
        var outputs: [String] = []
        switch body["outputParameters"] {
        case nil, .null?: break
        case .array(let names)?:
            for name in names {
                guard let name = name.stringValue else { throw MLDeployError.invalidArgument("\"outputParameters\" is a list of names.") }
                try NameRules.checkIdentifier(name, role: "output parameter")
                outputs.append(name)
            }
        default: throw MLDeployError.invalidArgument("\"outputParameters\" is a list of names.")
        }
        return (code, inputs, outputs)
    }
}
