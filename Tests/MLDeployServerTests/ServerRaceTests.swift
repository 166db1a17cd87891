import Foundation
import MLDeploy
@testable import MLDeployServer
import Testing

/// What clients see when a version changes under their calls, and what errors may say.
@Suite("Server races and error hygiene")
struct ServerRaceTests {
    @Test("calls racing redeploys and a delete of their version answer 200, 503 with Retry-After, or 404 — never 500")
    func consumeRacingRedeploy() async throws {
        try await withServer(python: true) { server in
            let token = try await server.token("admin")
            let publish = #"{"runtimeType": "Python", "code": "import time\ntime.sleep(0.02)\ny = x", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(server.base, "POST", "/services/race/1", body: publish, token: token).status == 201)
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        var seen: [Int] = []
                        for index in 0..<30 { seen.append(try await call(server.base, "POST", "/api/race/1", body: #"{"x": \#(caller * 100 + index)}"#, token: token).status) }
                        return seen
                    }
                }
                group.addTask {
                    for round in 0..<12 {
                        try await Task.sleep(for: .milliseconds(40))
                        _ = try await call(server.base, "PATCH", "/services/race/1", body: #"{"description": "round \#(round)", "code": "import time\ntime.sleep(0.02)\ny = x"}"#, token: token)
                    }
                    try await Task.sleep(for: .milliseconds(60))
                    _ = try await call(server.base, "DELETE", "/services/race/1", token: token)
                    return []
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(!statuses.contains(500), "statuses: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            #expect(Set(statuses).isSubset(of: [200, 503, 404]), "statuses: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            #expect(statuses.contains(200) && statuses.contains(404))
        }
    }

    @Test("a storage failure reaches the caller without the server's file paths (the log keeps them); a full queue is 503 with Retry-After")
    func storageErrorsHidePaths() {
        let error = ServerError(MLDeployError(code: .storageFailure, message: "Cannot write /srv/mldeploy-data/services/svc/1.json: No space left on device."))
        #expect("\(error)".hasPrefix("503 ") && error.exceptionType == "storage-failure")
        #expect(!error.message.contains("/srv") && error.detail?.contains("/srv/mldeploy-data") == true)
        let plain = ServerError(MLDeployError.notFound("No service 'x'."))
        #expect(plain.message == "No service 'x'." && plain.detail == nil)
        let overloaded = ServerError(MLDeployError(code: .overloaded, message: "Every worker stayed busy."))
        #expect("\(overloaded)".hasPrefix("503 ") && overloaded.retryAfter == 1, "a full queue asks the client to retry")
    }
}
