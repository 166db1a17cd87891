import Foundation
import MLDeploy
@testable import MLDeployPlugin
import Testing

@Suite("Plugin protocol framing")
struct PluginMessageTests {
    @Test("a message with attachments survives being split into one-byte chunks")
    func roundTripInPieces() throws {
        let big = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let first = PluginMessage.request(id: 7, method: "realtime/deploy", params: ["model": ["$attachment": 0], "icon": ["$attachment": 1]], attachments: [big, [0, 13, 10, 13, 10]])
        let second = PluginMessage.result(id: 7, ["ok": true])
        let bytes = try first.encoded() + second.encoded()
        #expect(String(decoding: bytes.prefix(40), as: UTF8.self).hasPrefix("Content-Length: "))
        var reader = PluginMessageReader()
        var messages: [PluginMessage] = []
        for byte in bytes {
            reader.append([byte])
            while let message = try reader.next() { messages.append(message) }
        }
        #expect(messages.count == 2)
        #expect(messages[0].method == "realtime/deploy" && messages[0].id == 7)
        #expect(messages[0].attachments == [big, [0, 13, 10, 13, 10]])
        #expect(try PluginWire.attachment(messages[0].params["icon"], in: messages[0].attachments, what: "icon") == Data([0, 13, 10, 13, 10]))
        #expect(messages[1].json["result"]?["ok"]?.boolValue == true)
    }

    @Test("header names are case-insensitive, unknown headers are ignored")
    func headers() throws {
        let body = #"{"jsonrpc":"2.0","id":1,"result":null}"#
        var reader = PluginMessageReader()
        reader.append(Array("content-type: application/json\r\nCONTENT-LENGTH: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        #expect(try reader.next()?.id == 1)
    }

    @Test("text that is not a framed message is refused as soon as it shows", arguments: ["hello, I am not a plugin\n", "{\"jsonrpc\": \"2.0\"}\r\n", "\u{1}\u{2}binary"])
    func garbage(_ text: String) throws {
        var reader = PluginMessageReader()
        reader.append(Array(text.utf8))
        #expect(throws: MLDeployError.self) { _ = try reader.next() }
    }

    @Test("a framework error keeps its code across the wire; JSON-RPC codes map to framework codes")
    func errors() throws {
        let message = PluginMessage.error(id: 3, MLDeployError.notFound("No service 'x'."))
        var reader = PluginMessageReader()
        reader.append(try message.encoded())
        let error = PluginWire.error(try #require(try reader.next()?.json["error"]), plugin: "p")
        #expect(error.code == .notFound && error.message == "No service 'x'.")
        #expect(PluginWire.error(["code": .integer(-32601), "message": "no such method"], plugin: "p").code == .unsupported)
        #expect(PluginWire.error(["code": .integer(-32800), "message": "cancelled"], plugin: "p").code == .cancelled)
    }

    @Test("definitions, results and batch states survive the codec, pickled bytes as attachments")
    func codec() throws {
        var definition = ServiceDefinition(
            name: "svc", version: "v1", description: "d", code: "y = x", initCode: "import math",
            objects: ["blob": .pickled(Data([1, 2, 3])), "k": .value(.numeric(2.5)), "v": .value(.vector([.integer(1), .integer(2)]))],
            inputs: [ParameterDefinition(name: "x", type: .dataFrame)], outputs: [ParameterDefinition(name: "y", type: .dataFrame)], artifacts: ["a.txt"]
        )
        definition.publishedBy = "alice"
        var attachments = PluginWire.Attachments()
        let json = try PluginWire.definition(definition, &attachments)
        #expect(attachments.list == [[1, 2, 3]])
        let back = try PluginWire.definition(json, attachments.list) { name in ServiceHandler(name) { _ in } }
        #expect(back.objects == definition.objects && back.inputs == definition.inputs && back.artifacts == ["a.txt"] && back.publishedBy == "alice")
        #expect(back.models == nil && back.alias == nil)

        let info = ServiceInfo(name: "svc", version: "v1", outputs: [ParameterDefinition(name: "y", type: .integer)], runtime: .swift, handlerName: "h")
        #expect(try PluginWire.serviceInfo(PluginWire.serviceInfo(info)) == info)
        let response = try ServiceResponse(service: info, outputs: ["y": .integer(4)], artifacts: ["a.txt": Data("hi".utf8)], consoleOutput: "printed")
        let status = BatchStatus(executionID: "e", state: .complete, completedItemCount: 1, totalItemCount: 1, results: [BatchItem(index: 0, response: response)])
        #expect(try PluginWire.status(PluginWire.status(status)) == status)
        let inputs: [String: MLValue] = ["x": .integer(3)]
        let schema = [ParameterDefinition(name: "x", type: .numeric)]
        #expect(try PluginWire.inputs(PluginWire.inputs(inputs, schema: schema), schema: schema) == ["x": .numeric(3)])
    }
}
