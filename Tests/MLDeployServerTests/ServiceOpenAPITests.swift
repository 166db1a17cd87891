import Foundation
import HTTPTypes
import MLDeploy
import MLDeployHTTP
import MLDeployOpenAPITransport
import MLDeployTestSupport
import OpenAPIRuntime
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A service's OpenAPI 3.0 rendition, from the server's route and from `mldeploy openapi`, checked
/// by a validator nobody here wrote (openapi-spec-validator, PyPI).
@Suite("OpenAPI 3.0 documents of services")
struct ServiceOpenAPITests {
    /// Validates `document` as OpenAPI 3.0 with openapi-spec-validator; returns its complaint, or `nil`.
    static func validate(_ document: String, in directory: URL) async throws -> String? {
        let file = directory.appendingPathComponent("openapi-\(UUID().uuidString.prefix(6)).json")
        try document.write(to: file, atomically: true, encoding: .utf8)
        let run = try await runToCompletion("/usr/bin/env", ["python3", "-c", "import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1])))", file.path])
        return run.status == 0 ? nil : run.output
    }

    @Test("GET /api/{name}/{version}/openapi.json: valid OpenAPI 3.0, typed inputs and outputs, the alias as the consume operation, this server as its server; a Reader may read it, nobody without a token")
    func route() async throws {
        try await withServer { server in
            let token = try await server.token()
            let publish = #"""
            {"code": "y = x", "runtimeType": "Python", "operationId": "score",
             "inputParameterDefinitions": [{"name": "hp", "type": "numeric"}, {"name": "n", "type": "integer"}, {"name": "v", "type": "vector"}, {"name": "df", "type": "data.frame"}],
             "outputParameterDefinitions": [{"name": "answer", "type": "character"}, {"name": "ok", "type": "logical"}, {"name": "m", "type": "matrix"}]}
            """#
            #expect(try await call(server.base, "POST", "/services/cars/1", body: publish, token: token).status == 201)
            let answer = try await call(server.base, "GET", "/api/cars/1/openapi.json", token: try await server.token("rita"))
            #expect(answer.status == 200, "\(answer.body)")
            let document = try JSONValue(parsing: answer.body)
            #expect(document["openapi"] == "3.0.3")
            #expect(document["servers"]?.arrayValue?.first?["url"]?.stringValue == server.base.absoluteString, "\(String(describing: document["servers"]))")
            #expect(document["paths"]?["/api/cars/1"]?["post"]?["operationId"] == "score")
            let inputs = document["components"]?["schemas"]?["InputParameters"]?["properties"]
            #expect(inputs?["hp"]?["type"] == "number" && inputs?["hp"]?["format"] == "double")
            #expect(inputs?["n"]?["type"] == "integer" && inputs?["n"]?["format"] == "int64")
            #expect(inputs?["v"]?["type"] == "array" && inputs?["df"]?["type"] == "object")
            let outputs = document["components"]?["schemas"]?["OutputParameters"]?["properties"]
            #expect(outputs?["answer"]?["type"] == "string" && outputs?["ok"]?["type"] == "boolean" && outputs?["m"]?["items"]?["type"] == "array")
            let directory = try temporaryDirectory("openapi")
            defer { try? FileManager.default.removeItem(at: directory) }
            let complaint = try await Self.validate(answer.body, in: directory)
            #expect(complaint == nil, "\(complaint ?? "")")

            #expect(try await call(server.base, "GET", "/api/cars/1/openapi.json").status == 401)
            #expect(try await call(server.base, "GET", "/api/nosuch/1/openapi.json", token: token).status == 404)
        }
    }

    @Test("mldeploy openapi prints the same document for any target, with --server-url as its server; an unknown service fails naming it")
    func command() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try cli.write("add.py", "s = a + b\n")
        let target = ["--target", "file:./services"]
        #expect(try await cli.run(target + ["deploy", "adder", "--version", "2", "--code", "add.py", "--input", "a=integer", "--input", "b=integer", "--output", "s=integer"]).status == 0)
        let printed = try await cli.run(target + ["openapi", "adder", "--version", "2", "--server-url", "https://ml.example.com"])
        #expect(printed.status == 0, "\(printed.error)")
        let document = try JSONValue(parsing: Array(printed.output.utf8))
        #expect(document["servers"]?.arrayValue?.first?["url"] == "https://ml.example.com")
        #expect(document["paths"]?["/api/adder/2"]?["post"]?["operationId"] == "consume")
        let complaint = try await Self.validate(printed.output, in: cli.directory)
        #expect(complaint == nil, "\(complaint ?? "")")
        let missing = try await cli.run(target + ["openapi", "nosuch"])
        #expect(missing.status != 0 && missing.error.contains("nosuch"), "\(missing.error)")
    }

    @Test("MLDeployClientTransport carries a generated client's requests over the libcurl HTTP client: path, headers and body both ways, the client's token source signing them in")
    func transport() async throws {
        try await withServer(python: true) { server in
            let publish = #"{"code": "y = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "numeric"}], "outputParameterDefinitions": [{"name": "y", "type": "numeric"}]}"#
            #expect(try await call(server.base, "POST", "/services/dbl/1", body: publish, token: try await server.token()).status == 201)
            let http = MLDeployHTTP.HTTPClient()
            http.authentication.use(LoginTokenSource(baseURL: server.base, username: "carol", password: "Pass123!"))
            let bare = MLDeployHTTP.HTTPClient()
            let outcome = await Result {
                let transport = MLDeployClientTransport(client: http)
                var request = HTTPTypes.HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/api/dbl/1")
                request.headerFields[.contentType] = "application/json"
                let (response, body) = try await transport.send(request, body: OpenAPIRuntime.HTTPBody(#"{"x": 21}"#), baseURL: server.base, operationID: "consume")
                #expect(response.status == .ok)
                #expect(response.headerFields[.contentType]?.hasPrefix("application/json") == true, "\(response.headerFields)")
                let text = try await String(collecting: try #require(body), upTo: 1 << 20)
                #expect(text.contains("42"), "\(text)")
                // Without a token source the server refuses, and the transport hands the 401 back as it came.
                let (refused, refusal) = try await MLDeployClientTransport(client: bare).send(
                    HTTPTypes.HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/services"), body: nil, baseURL: server.base, operationID: "list"
                )
                #expect(refused.status == .unauthorized)
                #expect(try await String(collecting: try #require(refusal), upTo: 1 << 20).contains("access token"))
            }
            await http.shutdown()
            await bare.shutdown()
            try outcome.get()
        }
    }
}
