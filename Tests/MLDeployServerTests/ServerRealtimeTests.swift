import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployServer
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A multipart body as `requests` builds it for the SDK's realtime publish: no part Content-Type.
func multipart(_ fields: [(String, String?, [UInt8])], boundary: String = "3cea4a05637266c95c9998fd758892c0") -> Data {
    var body = Data()
    for (name, fileName, bytes) in fields {
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"".utf8)
        if let fileName { body += Data("; filename=\"\(fileName)\"".utf8) }
        body += Data("\r\n\r\n".utf8) + Data(bytes) + Data("\r\n".utf8)
    }
    return body + Data("--\(boundary)--\r\n".utf8)
}

func callMultipart(_ base: URL, _ method: String, _ path: String, body: Data, token: String, boundary: String = "3cea4a05637266c95c9998fd758892c0") async throws -> (status: Int, body: String) {
    var request = URLRequest(url: URL(string: base.absoluteString + path)!)
    request.httpMethod = method
    request.setValue("multipart/form-data; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
    request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization")
    request.httpBody = body
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
}

@Suite("Server realtime services")
struct ServerRealtimeTests {
    @Test("publish and patch ONNX realtime models from the SDK's multipart, score them natively; rx models are refused at publish")
    func realtime() async throws {
        try await withServer { server in
            let (base, token) = (server.base, try await server.token("carol"))
            // y = 2·rating + 1 (its bytes hold CR, LF and dashes, as a multipart body must survive).
            let model = Array(ONNXModel.linearRegressor(coefficients: [2], intercept: 1))
            let body = multipart([("description", nil, Array("This is a realtime model.".utf8)), ("operationId", nil, Array("score".utf8)), ("model", "model", model)])
            let published = try await callMultipart(base, "POST", "/realtime-services/LinMod/1.0", body: body, token: token)
            #expect(published.status == 201 && published.body == #""1.0""#, "\(published.body)")
            let info = try JSONValue(parsing: try await call(base, "GET", "/services/LinMod/1.0", token: token).body).arrayValue?.first
            #expect(info?["runtimeType"]?.stringValue == "Realtime" && info?["description"]?.stringValue == "This is a realtime model.")
            #expect(info?["inputParameterDefinitions"]?.arrayValue?.first?["name"]?.stringValue == "inputData")

            let noVersion = try await callMultipart(base, "POST", "/realtime-services/NoVer", body: multipart([("model", "model", model)]), token: token)
            let generated = try JSONValue(parsing: noVersion.body)
            #expect(noVersion.status == 201 && generated.stringValue != nil)

            let consumed = try JSONValue(parsing: try await call(base, "POST", "/api/LinMod/1.0", body: #"{"inputData": {"rating": [43.0, 1.5]}}"#, token: token).body)
            #expect(consumed["outputParameters"]?["outputData"] == ["variable": [87.0, 4.0]], "\(consumed)")

            let newModel = Array(ONNXModel.linearRegressor(coefficients: [3], intercept: 0))
            let patched = try await callMultipart(base, "PATCH", "/realtime-services/LinMod/1.0", body: multipart([("model", "model", newModel)]), token: token)
            #expect(patched.status == 200 && patched.body == #""1.0""#)
            let rescored = try JSONValue(parsing: try await call(base, "POST", "/api/LinMod/1.0", body: #"{"inputData": {"rating": [2.0]}}"#, token: token).body)
            #expect(rescored["outputParameters"]?["outputData"] == ["variable": [6.0]], "the patched model scores")
            let wide = try await call(base, "POST", "/api/LinMod/1.0", body: #"{"inputData": {"a": [1.0], "b": [2.0]}}"#, token: token)
            #expect(wide.status == 400 && wide.body.contains("features"), "\(wide.body)")

            let rx = Array("blob".utf8) + [0x00, 0x01] + Array("binarymodel".utf8)
            let refused = try await callMultipart(base, "POST", "/realtime-services/Rx/1", body: multipart([("model", "model", rx)]), token: token)
            #expect(refused.status == 400 && refused.body.contains("Unsupported model format"), "\(refused.status) \(refused.body)")

            let missingModel = try await callMultipart(base, "POST", "/realtime-services/Bad/1", body: multipart([("description", nil, Array("d".utf8))]), token: token)
            #expect(missingModel.status == 400)
            let garbage = try await callMultipart(base, "POST", "/realtime-services/Bad/1", body: Data("not multipart".utf8), token: token)
            #expect(garbage.status == 400)
            let reader = try await server.token("rita")
            #expect(try await callMultipart(base, "POST", "/realtime-services/R/1", body: body, token: reader).status == 403)
        }
    }
}
