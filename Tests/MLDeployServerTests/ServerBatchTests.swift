import Foundation
import MLDeploy
import MLDeployServer
import Testing

@Suite("Server batch and swagger")
struct ServerBatchTests {
    @Test("batch: 202 with both id spellings, listing, results in record order, artifacts, cancel; swagger")
    func batch() async throws {
        try await withServer { server in
            let (base, token) = (server.base, try await server.token())
            _ = try await server.client.service("sq").version("1")
                .handler("square") { call in
                    let x = try call.integer("x")
                    call.outputs["y"] = .integer(x * x)
                    call.writeArtifact("out.txt", text: "square of \(x)")
                }
                .inputs(["x": .integer]).outputs(["y": .integer]).artifact("out.txt").deploy()

            let started = try await call(base, "POST", "/api/sq/1/batch?parallelCount=2", body: #"[{"x": 1}, {"x": 2}, {"x": 3}]"#, token: token)
            #expect(started.status == 202)
            let ids = try JSONValue(parsing: started.body)
            let id = try #require(ids["BatchExecutionId"]?.stringValue)
            #expect(ids["batchExecutionId"]?.stringValue == id)
            #expect(try await call(base, "GET", "/api/sq/1/batch", token: token).body == #"["\#(id)"]"#)

            var status = JSONValue.null
            for _ in 0..<200 {
                status = try JSONValue(parsing: try await call(base, "GET", "/api/sq/1/batch/\(id)?showPartialResult=true", token: token).body)
                if status["state"]?.stringValue == "Complete" { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(status["state"]?.stringValue == "Complete" && status["totalItemCount"]?.intValue == 3 && status["completedItemCount"]?.intValue == 3)
            let values = status["batchExecutionResults"]?.arrayValue?.map { $0["outputParameters"]?["y"]?.intValue }
            #expect(values == [1, 4, 9])
            let plural = try JSONValue(parsing: try await call(base, "GET", "/api/sq/1/batch/\(id)?showPartialResults=false", token: token).body)
            #expect(plural["batchExecutionResults"]?.arrayValue?.count == 3, "a finished batch shows every result")

            #expect(try await call(base, "GET", "/api/sq/1/batch/\(id)/1/files", token: token).body == #"["out.txt"]"#)
            let file = try await call(base, "GET", "/api/sq/1/batch/\(id)/2/files/out.txt", token: token)
            #expect(file.status == 200 && file.body == "square of 3", "raw bytes, not base64")
            #expect(try await call(base, "GET", "/api/sq/1/batch/\(id)/7/files", token: token).status == 404)
            #expect(try await call(base, "GET", "/api/sq/1/batch/\(id)/x/files", token: token).status == 400)

            #expect(try await call(base, "DELETE", "/api/sq/1/batch/\(id)", token: token).body == #"["\#(id)"]"#)
            #expect(try await call(base, "GET", "/api/sq/1/batch/\(id)", token: token).status == 404)
            for (query, body) in [("?parallelCount=0", "[]"), ("?parallelCount=x", "[]"), ("", #"{"x": 1}"#), ("", #"[{"x": "one"}]"#)] {
                #expect(try await call(base, "POST", "/api/sq/1/batch\(query)", body: body, token: token).status == 400, "\(query) \(body)")
            }

            let swagger = try JSONValue(parsing: try await call(base, "GET", "/api/sq/1/swagger.json", token: token).body)
            #expect(swagger["swagger"]?.stringValue == "2.0" && swagger["info"]?["title"]?.stringValue == "sq")
            #expect(swagger["paths"]?["/api/sq/1"] != nil && swagger["paths"]?["/api/sq/1/batch"] != nil)
            #expect(try await call(base, "GET", "/api/nope/1/swagger.json", token: token).status == 404)
        }
    }
}
