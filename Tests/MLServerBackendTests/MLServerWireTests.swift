import Foundation
import MLDeploy
import MLDeployONNX
import MLServerBackend
import Testing

/// Our requests, captured by the front, field by field against a recorded transcript of the Python
/// SDK's requests. Deliberate differences are asserted as such (and listed in docs/mlserver-backend.md).
@Suite("MLServer backend wire shape")
struct MLServerWireTests {
    @Test("requests match the Python SDK's transcript where it matters")
    func transcript() async throws {
        try await LocalMLServer.with { server in
            let front = try await Front.start(upstreamPort: server.port)
            defer { front.stop() }
            let client = try await server.client(base: front.base)
            let cars = Data([0x80, 0x04, 0x95, 0x21, 0x00, 0x00])  // opaque bytes, uploaded as they are
            let service = try await client.service("TxService").version("1.0").description("My first python model").alias("manualTransmission")
                .code("answer = hp * wt", initCode: "def init():\n    import pandas as pd\n\ninit()")
                .model("cars_model", pickled: cars).object("local_obj", pickled: MLServerBackendTests.pickledFifty)
                .inputs(["hp": .numeric, "wt": .numeric]).outputs(["answer": .numeric]).artifact("answer.csv").deploy()
            _ = try await service.consume(["hp": .numeric(120), "wt": .numeric(2.8)])
            _ = try await client.service("TxService").version("1.0").description("patched desc").redeploy()
            _ = try await client.realtimeService("LinModService").version("1.0").description("This is a realtime model.").alias("score")
                .serializedModel(ONNXModel.linearRegressor(coefficients: [2], intercept: 1)).deploy()
            _ = try await client.realtimeService("LinModService").version("1.0").serializedModel(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)).redeploy()
            let batch = try await service.batch([["hp": .numeric(120), "wt": .numeric(2.8)], ["hp": .numeric(130), "wt": .numeric(3)]], parallelCount: 10)
            _ = try await batch.wait()
            try await client.deleteService("TxService", version: "1.0")
            try await client.shutdown()

            let log = try await front.requests()
            func first(_ method: String, _ path: String) throws -> Front.Request {
                try #require(log.first { $0.method == method && $0.path == path }, "\(method) \(path) in \(log.map { "\($0.method) \($0.path)" })")
            }

            // Login: the body's two fields; every later request carries the bearer token and JSON accept.
            let login = try first("POST", "/login")
            #expect(login.json?.objectValue?.keys.map { $0 } == ["username", "password"] && login.headers["content-type"] == "application/json")
            for request in log where request.path != "/login" {
                #expect(request.headers["authorization"]?.hasPrefix("Bearer ") == true && request.headers["accept"] == "application/json", "\(request.method) \(request.path)")
            }

            // The publish sequence: session, models then objects (raw bytes), snapshot, publish, clean-up.
            let sequence = log.map { "\($0.method) \($0.path)" }
            let session = try first("POST", "/sessions")
            #expect(session.json == ["runtimeType": "Python"])
            let sessionID = try await sessionOf(front)
            let upload = try first("POST", "/sessions/\(sessionID)/workspace/cars_model")
            #expect(upload.headers["content-type"] == "application/octet-stream" && upload.body == cars)
            #expect(try first("POST", "/sessions/\(sessionID)/workspace/local_obj").body == MLServerBackendTests.pickledFifty)
            #expect(try first("POST", "/sessions/\(sessionID)/snapshot").json == ["name": .null])
            let publish = try first("POST", "/services/TxService/1.0")
            #expect(publish.json?.objectValue?.keys.map { $0 } == [
                "snapshotId", "code", "description", "operationId", "inputParameterDefinitions", "outputParameterDefinitions", "runtimeType", "initCode", "outputFileNames",
            ])
            #expect(publish.json?["inputParameterDefinitions"] == [["name": "hp", "type": "numeric"], ["name": "wt", "type": "numeric"]])
            #expect(publish.json?["outputFileNames"] == ["answer.csv"] && publish.json?["runtimeType"] == "Python" && publish.json?["operationId"] == "manualTransmission")
            let order = ["POST /sessions", "POST /sessions/\(sessionID)/snapshot", "POST /services/TxService/1.0", "DELETE /sessions/\(sessionID)", "GET /services/TxService/1.0"]
            let positions = order.compactMap { step in sequence.firstIndex(of: step) }
            #expect(positions.count == order.count && positions == positions.sorted(), "\(sequence)")
            #expect(sequence.contains { $0.hasPrefix("DELETE /snapshots/") })

            // Consume: the inputs object with numerics as JSON floats, as Python's json writes 120.0.
            let consume = try first("POST", "/api/TxService/1.0")
            #expect(String(decoding: consume.body, as: UTF8.self).contains("\"hp\":120.0") || String(decoding: consume.body, as: UTF8.self).contains("\"hp\": 120.0"))
            #expect(consume.json?.objectValue?.keys.map { $0 } == ["hp", "wt"])

            // Redeploy of a description: PATCH with the description and the runtime type — and, unlike the
            // SDK, no new empty snapshot (which would drop the service's objects).
            let patch = try first("PATCH", "/services/TxService/1.0")
            #expect(patch.json == ["description": "patched desc", "runtimeType": "Python"])

            // Realtime: multipart parts description, operationId, then the model file without a content type.
            let realtime = try first("POST", "/realtime-services/LinModService/1.0")
            let form = String(decoding: realtime.body, as: UTF8.self)
            let boundary = try #require(realtime.headers["content-type"]?.components(separatedBy: "boundary=").last)
            #expect(realtime.headers["content-type"]?.hasPrefix("multipart/form-data; boundary=") == true)
            #expect(form.hasPrefix("--\(boundary)\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nThis is a realtime model.\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"operationId\"\r\n\r\nscore\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"model\"; filename=\"model\"\r\n\r\n"))
            #expect(form.hasSuffix("\r\n--\(boundary)--\r\n"))
            let realtimePatch = String(decoding: try first("PATCH", "/realtime-services/LinModService/1.0").body, as: UTF8.self)
            #expect(!realtimePatch.contains("name=\"description\"") && realtimePatch.contains("name=\"model\"; filename=\"model\""))

            // Batch: records as an array with the parallel count in the query; status with showPartialResult.
            let start = try first("POST", "/api/TxService/1.0/batch?parallelCount=10")
            #expect(start.json?.arrayValue?.count == 2 && start.json?.arrayValue?.first?["hp"] == .double(120))
            #expect(log.contains { $0.method == "GET" && $0.path.hasPrefix("/api/TxService/1.0/batch/") && $0.path.hasSuffix("?showPartialResult=true") })
            #expect(sequence.contains("DELETE /services/TxService/1.0"))
        }
    }

    /// The id of the first session the front saw created (from the workspace upload's path).
    private func sessionOf(_ front: Front) async throws -> String {
        let upload = try #require(try await front.requests().first { $0.path.contains("/workspace/") })
        return upload.path.components(separatedBy: "/")[2]
    }
}
