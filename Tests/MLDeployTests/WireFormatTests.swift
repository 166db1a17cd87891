import Foundation
import MLDeploy
import Testing

@Suite("ML Server wire objects")
struct WireFormatTests {
    @Test(".NET round-trip timestamps: seven fractional digits, UTC, no zone; lenient parsing")
    func dotNetDates() throws {
        // A double holds a 2017 time to about 240 ns, so the digits past that are the nearest ticks.
        #expect(DotNetDate.format(Date(timeIntervalSince1970: 1_507_243_773.75)) == "2017-10-05T22:49:33.7500000")
        #expect(DotNetDate.format(Date(timeIntervalSince1970: 1_507_243_773.7832679)).hasPrefix("2017-10-05T22:49:33.78326"))
        #expect(DotNetDate.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.0000000")
        let parsed = try #require(DotNetDate.parse("2017-10-05T22:49:33.7832679"))
        #expect(abs(parsed.timeIntervalSince1970 - 1_507_243_773.7832679) < 1e-6)
        #expect(DotNetDate.parse("2017-10-05T22:49:33")?.timeIntervalSince1970 == 1_507_243_773)
        #expect(DotNetDate.parse("2017-10-05T22:49:33Z")?.timeIntervalSince1970 == 1_507_243_773)
        #expect(DotNetDate.parse("2017-10-06T00:49:33+02:00")?.timeIntervalSince1970 == 1_507_243_773)
        for bad in ["", "2017-10-05", "2017-13-05T00:00:00", "2017-10-05T22:49:33.", "2017-10-05T22:49:33x", "yyyy-10-05T22:49:33"] {
            #expect(DotNetDate.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("a WebService object round-trips and has the shape the SDK requires")
    func webService() throws {
        let info = ServiceInfo(
            name: "TxService", version: "1.0", description: nil, operationID: "manualTransmission",
            inputs: [.init(name: "hp", type: .numeric)], outputs: [.init(name: "answer", type: .dataFrame)], runtime: .python,
            artifacts: ["answer.csv"], creationTime: Date(timeIntervalSince1970: 1_507_243_773.5), publishedBy: "admin", code: "answer = hp"
        )
        let json = info.webServiceJSON()
        #expect(json["description"] == .null, "description is present even when null")
        #expect(json["outputFileNames"]?.arrayValue?.count == 1)
        #expect(json["creationTime"]?.stringValue == "2017-10-05T22:49:33.5000000")
        #expect(try ServiceInfo(webServiceJSON: json) == info)
        #expect(try ServiceInfo(webServiceJSON: ["name": "n", "version": "v", "inputParameterDefinitions": .null]).inputs.isEmpty)
        #expect(throws: MLDeployError.self) { try ServiceInfo(webServiceJSON: ["name": "n"]) }
        #expect(throws: MLDeployError.self) { try ServiceInfo(webServiceJSON: ["name": "n", "version": "v", "inputParameterDefinitions": [["name": "x"]]]) }
    }

    @Test("a WebServiceResult round-trips; outputs are typed by the schema; failures keep their message")
    func webServiceResult() throws {
        let service = ServiceInfo(name: "s", version: "1", outputs: [.init(name: "n", type: .integer)], runtime: .python)
        let response = try ServiceResponse(service: service, outputs: ["n": 3], artifacts: ["a.txt": Data("hi".utf8)], consoleOutput: "out\n")
        let json = response.webServiceResultJSON()
        #expect(json["errorMessage"]?.stringValue == "")
        #expect(json["outputFiles"]?["a.txt"]?.stringValue == "aGk=")
        let back = try ServiceResponse(webServiceResultJSON: json, service: service)
        let artifact = try back.artifact("a.txt")
        #expect(back.output("n") == 3 && back.consoleOutput == "out\n" && artifact == Data("hi".utf8))
        let failed = try ServiceResponse(webServiceResultJSON: ["success": false, "errorMessage": "boom"], service: service)
        #expect(!failed.success && failed.errorMessage == "boom")
        #expect(throws: MLDeployError.self) { try ServiceResponse(webServiceResultJSON: ["outputParameters": ["n": "text"]], service: service) }
    }
}
