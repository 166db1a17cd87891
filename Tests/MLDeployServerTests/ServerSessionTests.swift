import Foundation
import MLDeploy
import MLDeployServer
import Testing

@Suite("Server sessions: executing code in an authoring session", .serialized)
struct ServerSessionTests {
    /// Creates a Python session; returns its id.
    private func openSession(_ base: URL, token: String) async throws -> String {
        let answer = try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token)
        return try #require(try JSONValue(parsing: answer.body)["sessionId"]?.stringValue)
    }

    private func execute(_ base: URL, _ session: String, _ code: String, inputs: String = "null", outputs: String = "null", token: String) async throws -> (status: Int, body: JSONValue) {
        let quoted = try JSONValue.string(code).serialized()
        let body = #"{"code": \#(quoted), "inputParameters": \#(inputs), "outputParameters": \#(outputs)}"#
        let answer = try await call(base, "POST", "/sessions/\(session)/execute", body: body, token: token)
        return (answer.status, (try? JSONValue(parsing: answer.body)) ?? .string(answer.body))
    }

    @Test("state carries from one execution to the next (values, imports, functions), and a snapshot of it publishes")
    func statefulExecution() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token("carol"))
            let session = try await self.openSession(base, token: token)
            let first = try await self.execute(base, session, "import math\nbase = 40\ndef twice(v):\n    return 2 * v\nprint('set up')", token: token)
            #expect(first.status == 200 && first.body["success"]?.boolValue == true, "\(first.body)")
            #expect(first.body["consoleOutput"]?.stringValue == "set up\n" && first.body["errorMessage"]?.stringValue == "")
            #expect(first.body["outputParameters"]?.arrayValue?.isEmpty == true && first.body["changedFiles"]?.arrayValue?.isEmpty == true)

            let second = try await self.execute(
                base, session, "answer = base + a\nroot = math.sqrt(answer - 26)\ndoubled = twice(answer)\nopen('notes.txt', 'w').write('hi')",
                inputs: #"[{"name": "a", "value": 2}]"#, outputs: #"["answer", "root", "doubled", "missing"]"#, token: token
            )
            let outputs = Dictionary(uniqueKeysWithValues: (second.body["outputParameters"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", $0["value"] ?? .null) })
            #expect(second.body["success"]?.boolValue == true, "\(second.body)")
            #expect(outputs["answer"]?.intValue == 42 && outputs["root"]?.doubleValue == 4 && outputs["doubled"]?.intValue == 84 && outputs["missing"] == .null, "\(outputs)")
            #expect(second.body["changedFiles"]?.arrayValue?.compactMap(\.stringValue) == ["notes.txt"])

            // The workspace now holds what the code defined; history and console are kept.
            let workspace = try JSONValue(parsing: try await call(base, "GET", "/sessions/\(session)/workspace", token: token).body).arrayValue?.compactMap(\.stringValue) ?? []
            #expect(Set(["base", "answer", "root", "doubled", "twice", "math", "a"]).isSubset(of: Set(workspace)), "\(workspace)")
            let history = try JSONValue(parsing: try await call(base, "GET", "/sessions/\(session)/history", token: token).body).arrayValue
            #expect(history?.count == 2 && history?.first?.stringValue?.hasPrefix("import math") == true)
            #expect(try JSONValue(parsing: try await call(base, "GET", "/sessions/\(session)/console-output", token: token).body)["consoleOutput"]?.stringValue == "")

            // `del` removes from the workspace.
            #expect(try await self.execute(base, session, "del root", token: token).body["success"]?.boolValue == true)
            let after = try JSONValue(parsing: try await call(base, "GET", "/sessions/\(session)/workspace", token: token).body).arrayValue?.compactMap(\.stringValue) ?? []
            #expect(!after.contains("root") && after.contains("answer"))

            // A snapshot of the session publishes a service that uses what the session computed.
            let snapshot = try #require(try JSONValue(parsing: try await call(base, "POST", "/sessions/\(session)/snapshot", body: #"{"name": null}"#, token: token).body)["snapshotId"]?.stringValue)
            let publish = #"{"snapshotId": "\#(snapshot)", "code": "y = twice(x) + answer", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(base, "POST", "/services/fromSession/1", body: publish, token: token).status == 201)
            let consumed = try JSONValue(parsing: try await call(base, "POST", "/api/fromSession/1", body: #"{"x": 5}"#, token: token).body)
            #expect(consumed["outputParameters"]?["y"]?.intValue == 52, "\(consumed)")
        }
    }

    @Test("code that raises reports its traceback (200, success false) and keeps what it did before raising")
    func failingCode() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token())
            let session = try await self.openSession(base, token: token)
            let failed = try await self.execute(base, session, "kept = 7\nprint('before')\nraise ValueError('bad input here')", token: token)
            #expect(failed.status == 200 && failed.body["success"]?.boolValue == false)
            #expect(failed.body["errorMessage"]?.stringValue?.contains("ValueError: bad input here") == true, "\(failed.body)")
            #expect(failed.body["consoleOutput"]?.stringValue == "before\n")
            let next = try await self.execute(base, session, "k = kept", outputs: #"["k"]"#, token: token)
            #expect(next.body["outputParameters"]?.arrayValue?.first?["value"]?.intValue == 7)
            // A variable pickle cannot hold stays out of the workspace without failing the run.
            let generator = try await self.execute(base, session, "g = (i for i in range(3))\nfine = 1", token: token)
            #expect(generator.body["success"]?.boolValue == true, "\(generator.body)")
            let workspace = try JSONValue(parsing: try await call(base, "GET", "/sessions/\(session)/workspace", token: token).body).arrayValue?.compactMap(\.stringValue) ?? []
            #expect(workspace.contains("fine") && !workspace.contains("g"))
            // A syntax error is a failed run too, not a server error.
            let syntax = try await self.execute(base, session, "def (", token: token)
            #expect(syntax.status == 200 && syntax.body["success"]?.boolValue == false && syntax.body["errorMessage"]?.stringValue?.contains("SyntaxError") == true)
        }
    }

    @Test("bad execute requests are 400, others' and unknown sessions 404, a busy session 409")
    func badRequests() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token("carol"))
            let session = try await self.openSession(base, token: token)
            for body in [#"{}"#, #"{"code": 5}"#, #"{"code": "x = 1", "inputParameters": {"a": 1}}"#, #"{"code": "x = 1", "inputParameters": [{"value": 1}]}"#,
                         #"{"code": "x = 1", "inputParameters": [{"name": "not a name", "value": 1}]}"#, #"{"code": "x = 1", "outputParameters": [1]}"#, "not json"] {
                let answer = try await call(base, "POST", "/sessions/\(session)/execute", body: body, token: token)
                #expect(answer.status == 400, "\(body) → \(answer.status) \(answer.body)")
            }
            #expect(try await call(base, "POST", "/sessions/nope/execute", body: #"{"code": "x = 1"}"#, token: token).status == 404)
            // A Reader may not execute code at all; another Contributor does not see the session.
            let reader = try await server.token("rita")
            #expect(try await call(base, "POST", "/sessions/\(session)/execute", body: #"{"code": "x = 1"}"#, token: reader).status == 403)
            try await server.server.users.add("cora", password: "Pass123!", role: .contributor, iterations: 1000)
            let other = try await server.token("cora")
            #expect(try await call(base, "POST", "/sessions/\(session)/execute", body: #"{"code": "x = 1"}"#, token: other).status == 404)
            #expect(try await call(base, "POST", "/sessions/\(session)/execute", body: #"{"code": "x = 1"}"#).status == 401)
            // A workspace object this interpreter cannot unpickle is a clear 400, and the session stays usable.
            #expect(try await call(base, "POST", "/sessions/\(session)/workspace/junk", bytes: Data("not a pickle".utf8), token: token).status == 200)
            let junk = try await call(base, "POST", "/sessions/\(session)/execute", body: #"{"code": "x = 1"}"#, token: token)
            #expect(junk.status == 400 && junk.body.contains("workspace"), "\(junk.body)")
            #expect(try await call(base, "DELETE", "/sessions/\(session)/workspace/junk", token: token).status == 200)

            // One execution at a time per session.
            async let slow = self.execute(base, session, "import time\ntime.sleep(1.5)\ndone = True", token: token)
            try await Task.sleep(for: .milliseconds(500))
            let busy = try await self.execute(base, session, "x = 1", token: token)
            #expect(busy.status == 409, "\(busy.body)")
            #expect(try await slow.body["success"]?.boolValue == true)
            #expect(try await self.execute(base, session, "x = done", token: token).body["success"]?.boolValue == true)
        }
    }
}
