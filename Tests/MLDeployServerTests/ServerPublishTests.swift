import Foundation
import MLDeploy
import MLDeployServer
import Testing

@Suite("Server publishing: the SDK's session → workspace → snapshot → publish flow", .serialized)
struct ServerPublishTests {
    /// The Python SDK's recorded request sequence, with a real pickled object run by real python3 workers.
    @Test("publish, consume, redeploy and delete with the SDK's exact requests")
    func sdkFlow() async throws {
        try await withServer(python: true) { server in
            let (base, token) = (server.base, try await server.token("carol"))
            let session = try JSONValue(parsing: try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token).body)
            let sessionID = try #require(session["sessionId"]?.stringValue)
            // pickle.dumps(50, protocol=4): the SDK uploads dill bytes, raw.
            let fifty = Data([0x80, 0x04, 0x4B, 0x32, 0x2E])
            #expect(try await call(base, "POST", "/sessions/\(sessionID)/workspace/local_obj", bytes: fifty, token: token).status == 200)
            let snapshotAnswer = try await call(base, "POST", "/sessions/\(sessionID)/snapshot", body: #"{"name": null}"#, token: token)
            #expect(snapshotAnswer.status == 201)
            let snapshotID = try #require(try JSONValue(parsing: snapshotAnswer.body)["snapshotId"]?.stringValue)
            let publish = """
                {"snapshotId": "\(snapshotID)", "code": "def score(hp, wt):\\n    return hp * wt * local_obj\\n\\nanswer = score(hp, wt)",
                 "description": "Scores", "operationId": "score",
                 "inputParameterDefinitions": [{"name": "hp", "type": "numeric"}, {"name": "wt", "type": "numeric"}],
                 "outputParameterDefinitions": [{"name": "answer", "type": "numeric"}], "runtimeType": "Python",
                 "initCode": "import math", "outputFileNames": []}
                """
            let published = try await call(base, "POST", "/services/Tx/1.0", body: publish, token: token)
            #expect(published.status == 201 && published.body == #""1.0""#, "\(published.body)")
            #expect(try await call(base, "DELETE", "/sessions/\(sessionID)", token: token).status == 200)
            #expect(try await call(base, "DELETE", "/snapshots/\(snapshotID)", token: token).status == 200)

            let info = try JSONValue(parsing: try await call(base, "GET", "/services/Tx/1.0", token: token).body).arrayValue?.first
            #expect(info?["versionPublishedBy"]?.stringValue == "carol" && info?["myPermissionOnService"]?.stringValue == "read/write")
            #expect(info?["operationId"]?.stringValue == "score" && info?["initCode"]?.stringValue == "import math")
            let consumed = try JSONValue(parsing: try await call(base, "POST", "/api/Tx/1.0", body: #"{"hp": 120.0, "wt": 2.8}"#, token: token).body)
            #expect(consumed["success"]?.boolValue == true, "\(consumed)")
            #expect(abs((consumed["outputParameters"]?["answer"]?.doubleValue ?? 0) - 16_800) < 1e-6, "the object survived the snapshot's deletion")

            // Without a version: a generated one, answered as JSON and listed last.
            let generated = try await call(base, "POST", "/services/Tx", body: publish.replacingOccurrences(of: "\"snapshotId\": \"\(snapshotID)\", ", with: ""), token: token)
            #expect(generated.status == 201)
            let generatedVersion = try #require(try JSONValue(parsing: generated.body).stringValue)
            let versions = try JSONValue(parsing: try await call(base, "GET", "/services/Tx", token: token).body).arrayValue?.compactMap { $0["version"]?.stringValue }
            #expect(versions == ["1.0", generatedVersion])

            // Redeploy as the SDK does: a fresh, empty snapshot and a new description. The service keeps its object.
            let redeploySession = try #require(try JSONValue(parsing: try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: token).body)["sessionId"]?.stringValue)
            let emptySnapshot = try #require(try JSONValue(parsing: try await call(base, "POST", "/sessions/\(redeploySession)/snapshot", body: #"{"name": null}"#, token: token).body)["snapshotId"]?.stringValue)
            let patched = try await call(base, "PATCH", "/services/Tx/1.0", body: #"{"snapshotId": "\#(emptySnapshot)", "description": "patched desc", "runtimeType": "Python"}"#, token: token)
            #expect(patched.status == 200 && patched.body == #""1.0""#, "\(patched.body)")
            let after = try JSONValue(parsing: try await call(base, "GET", "/services/Tx/1.0", token: token).body).arrayValue?.first
            #expect(after?["description"]?.stringValue == "patched desc")
            let again = try JSONValue(parsing: try await call(base, "POST", "/api/Tx/1.0", body: #"{"hp": 1.0, "wt": 2.0}"#, token: token).body)
            #expect(again["outputParameters"]?["answer"]?.doubleValue == 100)

            #expect(try await call(base, "DELETE", "/services/Tx/1.0", token: token).status == 200)
        }
    }

    @Test("roles and bad publish requests: Reader 403, another Contributor 403, R runtime, missing code, bad types, unknown snapshot, existing version")
    func refusals() async throws {
        try await withServer { server in
            let base = server.base
            let (reader, carol, admin) = (try await server.token("rita"), try await server.token("carol"), try await server.token("admin"))
            try await server.server.users.add("dave", password: "Pass123!", role: .contributor, iterations: 1000)
            let dave = try await server.token("dave")
            let good = #"{"code": "y = x", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(base, "POST", "/services/s/1", body: good, token: reader).status == 403)
            #expect(try await call(base, "POST", "/services/s/1", body: good, token: carol).status == 201)
            #expect(try await call(base, "PATCH", "/services/s/1", body: #"{"description": "mine", "runtimeType": "Python"}"#, token: dave).status == 403)
            #expect(try await call(base, "DELETE", "/services/s/1", token: dave).status == 403)
            #expect(try await call(base, "PATCH", "/services/s/1", body: #"{"description": "owner's", "runtimeType": "Python"}"#, token: admin).status == 200)
            let cases: [(String, String, Int, String)] = [
                ("/services/s/1", good, 409, "conflict"),
                ("/services/s/2", #"{"code": "y = x", "runtimeType": "R"}"#, 400, "unsupported"),
                ("/services/s/2", #"{"code": "y = x"}"#, 400, "unsupported"),
                ("/services/s/2", #"{"runtimeType": "Python"}"#, 400, "invalid-argument"),
                ("/services/s/2", #"{"code": "y = x", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "complex"}]}"#, 400, "unknown-parameter-type"),
                ("/services/s/2", #"{"code": "y = x", "runtimeType": "Python", "snapshotId": "nope"}"#, 404, "not-found"),
                ("/services/..%2Fx/2", good, 400, "invalid-name"),
                ("/services/s/2", "[]", 400, "invalid-argument"),
            ]
            for (path, body, status, type) in cases {
                let answer = try await call(base, "POST", path, body: body, token: carol)
                #expect(answer.status == status, "\(path) \(body): \(answer.body)")
                #expect(try JSONValue(parsing: answer.body)["exceptionType"]?.stringValue == type, "\(path) \(body): \(answer.body)")
            }
            #expect(try await call(base, "GET", "/services", token: carol).status == 200, "still serving")
            // Sessions are their owner's.
            let session = try #require(try JSONValue(parsing: try await call(base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: carol).body)["sessionId"]?.stringValue)
            #expect(try await call(base, "POST", "/sessions/\(session)/workspace/m", bytes: Data([1]), token: dave).status == 404)
            #expect(try await call(base, "POST", "/sessions/\(session)/workspace/bad%20name", bytes: Data([1]), token: carol).status == 400)
            #expect(try await call(base, "POST", "/sessions", body: #"{"runtimeType": "R"}"#, token: carol).status == 400)
        }
    }
}
