import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Open Inference Protocol on a real `mldeploy serve`: checked by clients nobody here wrote
/// (tritonclient[http], binary tensor data on and off, and kserve's InferenceRESTClient) and by raw
/// requests for every error the protocol names.
@Suite("Open Inference Protocol on mldeploy serve", .serialized)
struct OIPServerTests {
    /// A server with `lin` (a realtime linear regressor: `input` [N, 4] → `variable` [N, 1]),
    /// `pyscale` (Python: x numeric, v vector → y, total, doubled), `frame` (a data frame in and
    /// out) and `raiser` (code that raises).
    static func withServer(_ body: (URL, String) async throws -> Void) async throws {
        let directory = try temporaryDirectory("oip")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, base) = try await ServerMetricsTests.serve(directory, environment: ["MLDEPLOY_RUNTIME_ISOLATION": "none"])
        defer { server.stop() }
        let token = try #require(try await ServerMetricsTests.login(base).token)
        let model = ONNXModel.linearRegressor(coefficients: [1, 2, 3, 4], intercept: 0.5)
        let published = try await callMultipart(base, "POST", "/realtime-services/lin/1", body: multipart([("model", "lin.onnx", Array(model))]), token: token)
        #expect(published.status == 201, "\(published.body)")
        func publish(_ name: String, _ code: String, inputs: [(String, String)], outputs: [(String, String)]) async throws {
            func definitions(_ list: [(String, String)]) -> String { list.map { #"{"name": "\#($0.0)", "type": "\#($0.1)"}"# }.joined(separator: ", ") }
            let body = #"{"code": "\#(code)", "runtimeType": "Python", "inputParameterDefinitions": [\#(definitions(inputs))], "outputParameterDefinitions": [\#(definitions(outputs))]}"#
            let answer = try await call(base, "POST", "/services/\(name)/1", body: body, token: token)
            #expect(answer.status == 201, "\(answer.body)")
        }
        try await publish("pyscale", #"y = x * 2\ntotal = sum(v)\ndoubled = [e * 2 for e in v]"#, inputs: [("x", "numeric"), ("v", "vector")], outputs: [("y", "numeric"), ("total", "numeric"), ("doubled", "vector")])
        try await publish("frame", #"out = df.assign(s=df.a + df.b)"#, inputs: [("df", "data.frame")], outputs: [("out", "data.frame")])
        try await publish("raiser", #"raise ValueError('no good')\ny = x"#, inputs: [("x", "numeric")], outputs: [("y", "numeric")])
        try await body(base, token)
    }

    @Test("tritonclient (binary on and off) and kserve's client: health, metadata, readiness, infer on a realtime and a Python service, ids echoed, errors", .timeLimit(.minutes(3)))
    func clientsNobodyHereWrote() async throws {
        let python = ProcessInfo.processInfo.environment["MLDEPLOY_OIP_PYTHON"] ?? PythonSDKInteropTests.packageRoot.appendingPathComponent(".venv-oip/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no OIP clients' venv at \(python): run scripts/bootstrap.sh (or set MLDEPLOY_OIP_PYTHON)")
        try await Self.withServer { base, token in
            let script = PythonSDKInteropTests.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/oip_clients.py").path
            let run = try await runToCompletion(python, [script, "127.0.0.1:\(base.port!)", token])
            #expect(run.status == 0 && run.output.contains("ALL OK"), "\(run.output)")
        }
    }

    /// A raw inference call: `json`, then `binary` after it when given (with the header).
    static func infer(_ base: URL, _ path: String, json: String, binary: [UInt8]? = nil, headerLength: String? = nil, token: String?) async throws -> (status: Int, body: JSONValue, headers: [String: String]) {
        var request = URLRequest(url: URL(string: base.absoluteString + path)!)
        request.httpMethod = "POST"
        request.httpBody = Data(json.utf8) + Data(binary ?? [])
        if binary != nil || headerLength != nil { request.setValue(headerLength ?? String(json.utf8.count), forHTTPHeaderField: "Inference-Header-Content-Length") }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)".lowercased()] = "\(value)" }
        let length = headers["inference-header-content-length"].flatMap { Int($0) } ?? data.count
        return (http?.statusCode ?? 0, (try? JSONValue(parsing: Array(data.prefix(length)))) ?? .string(String(decoding: data, as: UTF8.self)), headers)
    }

    @Test("every error is {\"error\"} with 400 or 404 as the protocol says; health needs no token, models do; data frames travel as one tensor per column")
    func errorsAndMappings() async throws {
        try await Self.withServer { base, token in
            let live = try await call(base, "GET", "/v2/health/live")
            #expect(live.status == 200 && live.body == #"{"live":true}"#, "\(live.body)")
            #expect(try await call(base, "GET", "/v2/health/ready").body == #"{"ready":true}"#)
            #expect(try await call(base, "GET", "/v2/models/lin").status == 401)
            #expect(try await call(base, "GET", "/v2/models/lin/versions/1/ready", token: token).body == #"{"name":"lin","ready":true}"#)

            func expectError(_ answer: (status: Int, body: JSONValue, headers: [String: String]), _ status: Int, _ words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
                let message = answer.body["error"]?.stringValue ?? ""
                #expect(answer.status == status && words.allSatisfy { message.contains($0) }, "\(answer.status) \(answer.body)", sourceLocation: sourceLocation)
            }
            let scalar = #"{"name": "x", "shape": [1], "datatype": "FP64", "data": [2]}"#
            expectError(try await Self.infer(base, "/v2/models/nosuch/infer", json: #"{"inputs": [\#(scalar)]}"#, token: token), 404, "nosuch")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: #"{"inputs": [\#(scalar), {"name": "v", "shape": [2], "datatype": "INT64", "data": [1, 2, 3]}]}"#, token: token), 400, "shape [2]", "3")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: #"{"inputs": [\#(scalar)]}"#, token: token), 400, "'v'", "missing")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: #"{"inputs": [\#(scalar), {"name": "w", "shape": [1], "datatype": "INT64", "data": [1]}]}"#, token: token), 400, "'w'", "x, v")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: #"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP99", "data": [1]}]}"#, token: token), 400, "FP99", "FP64")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: "{not json", token: token), 400, "JSON")
            expectError(try await Self.infer(base, "/v2/models/raiser/infer", json: #"{"inputs": [\#(scalar)]}"#, token: token), 400, "no good")
            let bothInputs = #"{"inputs": [\#(scalar), {"name": "v", "shape": [1], "datatype": "INT64", "data": [1]}], "outputs": [{"name": "nope"}]}"#
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: bothInputs, token: token), 400, "'nope'", "y, total, doubled")
            // Binary data that does not add up: a header past the body, sizes past the data, bytes left over.
            let binaryX = #"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "parameters": {"binary_data_size": 8}}, {"name": "v", "shape": [1], "datatype": "INT64", "data": [1]}]}"#
            let eight = withUnsafeBytes(of: 21.0.bitPattern.littleEndian) { Array($0) }
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: binaryX, binary: Array(eight.prefix(4)), token: token), 400, "8 bytes")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: binaryX, binary: eight + [0], token: token), 400, "1 bytes after the JSON")
            expectError(try await Self.infer(base, "/v2/models/pyscale/infer", json: binaryX, binary: eight, headerLength: "100000", token: token), 400, "Inference-Header-Content-Length")
            let unauthorized = try await Self.infer(base, "/v2/models/pyscale/infer", json: binaryX, binary: eight, token: nil)
            #expect(unauthorized.status == 401)

            // Binary in, JSON out when no output asks for binary; the id echoed.
            let good = try await Self.infer(base, "/v2/models/pyscale/versions/1/infer", json: String(binaryX.dropLast()) + #", "id": "r-1"}"#, binary: eight, token: token)
            #expect(good.status == 200 && good.body["id"]?.stringValue == "r-1" && good.body["model_version"]?.stringValue == "1", "\(good.body)")
            #expect(good.body["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "y" }?["data"] == [42.0], "\(good.body)")

            // A data frame: one tensor per column in, one per column out (MLServer's pandas codec).
            let columns = #"{"inputs": [{"name": "a", "shape": [2], "datatype": "FP64", "data": [1.5, 2.5]}, {"name": "b", "shape": [2, 1], "datatype": "INT64", "data": [10, 20]}]}"#
            let frame = try await Self.infer(base, "/v2/models/frame/infer", json: columns, token: token)
            let outputs = frame.body["outputs"]?.arrayValue ?? []
            #expect(outputs.map { $0["name"]?.stringValue ?? "" } == ["a", "b", "s"], "\(frame.body)")
            #expect(outputs.last?["data"] == [11.5, 22.5] && outputs.last?["datatype"]?.stringValue == "FP64", "\(frame.body)")
            let metadata = try await call(base, "GET", "/v2/models/frame", token: token)
            #expect(metadata.body.contains(#""content_type":"pd""#) && metadata.body.contains(#""platform":"mldeploy_python""#), "\(metadata.body)")
        }
    }
}
