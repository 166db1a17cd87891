import Foundation
import MLDeploy
import Testing

@Suite("Service, responses, swagger and credentials")
struct ServiceTests {
    static let tx = ServiceInfo(
        name: "TxService", version: "1.0", description: "My first python model", operationID: "manualTransmission",
        inputs: [.init(name: "hp", type: .numeric), .init(name: "wt", type: .numeric)], outputs: [.init(name: "answer", type: .dataFrame)],
        runtime: .python, artifacts: ["answer.csv"], snapshotID: "snap"
    )

    @Test("binds positional inputs in definition order and refuses the wrong count")
    func positional() throws {
        #expect(try Self.tx.bindInputs(positional: [120, 2.8]) == ["hp": .numeric(120), "wt": .numeric(2.8)])
        #expect { try Self.tx.bindInputs(positional: [1]) } throws: { ($0 as? MLDeployError)?.code == .inputMismatch }
    }

    @Test("checks outputs: declared ones typed, missing ones null, undeclared ones dropped")
    func outputs() throws {
        let frame = try DataFrame(["am_Pred": [0.5]])
        #expect(try Self.tx.checkOutputs(["answer": .dataFrame(frame), "extra": 1]) == ["answer": .dataFrame(frame)])
        #expect(try Self.tx.checkOutputs([:]) == ["answer": .null])
        #expect { try Self.tx.checkOutputs(["answer": 1]) } throws: { ($0 as? MLDeployError)?.code == .outputMismatch }
    }

    @Test("a response decodes artifacts and reports bad base64 as a typed error")
    func artifacts() throws {
        let response = try ServiceResponse(service: Self.tx, outputs: ["answer": .null], artifacts: ["answer.csv": Data("a,b\n".utf8)])
        #expect(response.rawArtifact("answer.csv") == "YSxiCg==")
        #expect(try response.artifact("answer.csv", encoding: .utf8) == "a,b\n")
        #expect(response.success && response.errorMessage == nil && response.api == "/api/TxService/1.0")
        var broken = response
        broken.rawArtifacts["answer.csv"] = "%%% not base64 %%%"
        #expect { try broken.artifact("answer.csv") } throws: { ($0 as? MLDeployError)?.code == .invalidArtifact }
        let failed = ServiceResponse.failure(service: Self.tx, errorMessage: "Traceback…", consoleOutput: "hello\n")
        #expect(!failed.success && failed.outputs.isEmpty && failed.consoleOutput == "hello\n")
    }

    @Test("capabilities mirror the Python SDK's dictionary")
    func capabilities() {
        let capabilities = ServiceCapabilities(info: Self.tx)
        #expect(capabilities.api == "/api/TxService/1.0")
        #expect(capabilities.operationID == "manualTransmission")
        #expect(capabilities.swaggerPath == "/api/TxService/1.0/swagger.json")
        #expect(capabilities.artifacts == ["answer.csv"] && capabilities.snapshotID == "snap")
        var anonymous = Self.tx
        anonymous.operationID = nil
        #expect(ServiceCapabilities(info: anonymous).operationID == "consume")
    }

    @Test("the generated swagger follows the ML Server 9.3 template")
    func swagger() throws {
        let document = SwaggerDocument.make(for: Self.tx)
        #expect(document["swagger"] == "2.0")
        #expect(document["info"] == ["description": "My first python model", "title": "TxService", "version": "1.0"])
        #expect(document["securityDefinitions"]?["Bearer"]?["in"] == "header")
        let paths = try #require(document["paths"]?.objectValue)
        #expect(paths.keys == [
            "/login", "/login/refreshToken", "/api/TxService/1.0", "/api/TxService/1.0/batch", "/api/TxService/1.0/batch/{executionId}",
            "/api/TxService/1.0/batch/{executionId}/{index}/files", "/api/TxService/1.0/batch/{executionId}/{index}/files/{fileName}",
        ])
        #expect(paths["/api/TxService/1.0"]?["post"]?["operationId"] == "manualTransmission")
        #expect(document["definitions"]?["InputParameters"]?["properties"]?["hp"] == ["type": "number", "description": "numeric"])
        #expect(document["definitions"]?["OutputParameters"]?["properties"]?["answer"] == ["type": "object", "description": "data.frame"])
        for type in ParameterType.allCases {
            #expect(SwaggerDocument.schema(for: type)["description"] == .string(type.rawValue))
        }
        _ = try document.serialized()
    }

    @Test("credentials never print their secrets, and AAD options name a missing key")
    func credentials() throws {
        let aad = try AADOptions(dictionary: ["authuri": "https://login.windows.net", "tenant": "t", "clientid": "c", "resource": "r", "username": "u", "password": "pw"])
        for credential in [AuthContext.password(username: "admin", password: "pw"), .accessToken("tok-123"), .azureActiveDirectory(aad)] {
            #expect(!"\(credential)".contains("pw") && !"\(credential)".contains("tok-123"))
        }
        #expect { try AADOptions(dictionary: ["authuri": "a", "tenant": "t", "resource": "r"]) } throws: { "\($0)".contains("'clientid'") }
        #expect { try AADOptions(dictionary: ["authuri": "a", "tenant": "t", "clientid": "c", "resource": "r", "username": "u"]) } throws: {
            "\($0)".contains("password")
        }
        #expect(AuthContext.password(username: "u", password: "p").passwordCredentials?.username == "u")
        #expect(AuthContext.accessToken("t").accessToken == "t")
        #expect(AuthContext.azureActiveDirectory(aad).aadOptions?.clientID == "c")
    }

    @Test("errors print their code, message and HTTP status")
    func errors() {
        let error = MLDeployError(code: .notFound, message: "gone", httpStatus: 404, responseBody: "{}")
        #expect("\(error)" == "[not-found] gone (HTTP 404)")
        #expect(MLDeployError.Code("custom-code") == MLDeployError.Code("custom-code"))
    }
}
