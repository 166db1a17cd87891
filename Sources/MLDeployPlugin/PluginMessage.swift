import Foundation
import MLDeploy

/// One message of the plugin protocol: a JSON-RPC 2.0 object and the binary attachments it refers
/// to as `{"$attachment": i}`.
///
/// On the wire it is framed as the Language Server Protocol frames messages — `Content-Length: N`,
/// an optional `MLDeploy-Attachments: a,b,…` header, an empty line, the N bytes of UTF-8 JSON — and
/// the attachments follow the JSON back to back, so models and artifacts travel as raw bytes.
package struct PluginMessage: Sendable {
    /// The JSON-RPC object.
    package var json: JSONObject
    /// The binary attachments, in the order `{"$attachment": i}` numbers them.
    package var attachments: [[UInt8]]

    package init(_ json: JSONObject, attachments: [[UInt8]] = []) {
        self.json = json
        self.attachments = attachments
    }

    /// The request id, when the message is a request or a response.
    package var id: Int? { self.json["id"]?.intValue }
    /// The method, when the message is a request or a notification.
    package var method: String? { self.json["method"]?.stringValue }
    /// The parameters of a request (an empty object when absent).
    package var params: JSONValue { self.json["params"] ?? .object([:]) }

    /// A request.
    package static func request(id: Int, method: String, params: JSONValue, attachments: [[UInt8]] = []) -> PluginMessage {
        PluginMessage(["jsonrpc": "2.0", "id": .integer(id), "method": .string(method), "params": params], attachments: attachments)
    }

    /// A notification (a request that gets no answer).
    package static func notification(method: String, params: JSONValue) -> PluginMessage {
        PluginMessage(["jsonrpc": "2.0", "method": .string(method), "params": params])
    }

    /// A successful answer.
    package static func result(id: Int, _ result: JSONValue, attachments: [[UInt8]] = []) -> PluginMessage {
        PluginMessage(["jsonrpc": "2.0", "id": .integer(id), "result": result], attachments: attachments)
    }

    /// A failed answer carrying a framework error: JSON-RPC code `-32000` for backend failures,
    /// the framework's stable code in `data.code`.
    package static func error(id: Int?, rpcCode: Int = PluginRPCError.backendFailure, _ error: MLDeployError) -> PluginMessage {
        var data: JSONObject = ["code": .string(error.code.rawValue)]
        if let status = error.httpStatus { data["httpStatus"] = .integer(status) }
        return PluginMessage([
            "jsonrpc": "2.0", "id": id.map(JSONValue.integer) ?? .null,
            "error": ["code": .integer(rpcCode), "message": .string(error.message), "data": .object(data)],
        ])
    }

    /// The framed bytes.
    package func encoded() throws -> [UInt8] {
        let body = try JSONValue.object(self.json).serializedBytes()
        var header = "Content-Length: \(body.count)\r\n"
        if !self.attachments.isEmpty {
            header += "MLDeploy-Attachments: " + self.attachments.map { String($0.count) }.joined(separator: ",") + "\r\n"
        }
        header += "\r\n"
        var bytes = Array(header.utf8)
        bytes.reserveCapacity(bytes.count + body.count + self.attachments.reduce(0) { $0 + $1.count })
        bytes += body
        for attachment in self.attachments { bytes += attachment }
        return bytes
    }
}

/// JSON-RPC error codes the protocol uses.
package enum PluginRPCError {
    /// The message could not be parsed.
    package static let parseError = -32700
    /// The message is not a request.
    package static let invalidRequest = -32600
    /// The plugin does not implement the method.
    package static let methodNotFound = -32601
    /// The parameters are malformed.
    package static let invalidParams = -32602
    /// A backend operation failed; `data.code` is the framework's error code.
    package static let backendFailure = -32000
    /// The request was cancelled (LSP's code).
    package static let requestCancelled = -32800
}

/// Reassembles messages from the chunks a pipe delivers.
package struct PluginMessageReader {
    private var buffer: [UInt8] = []
    private var start = 0

    package init() {}

    /// Adds bytes read from the pipe.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        if self.start > 65536, self.start * 2 > self.buffer.count {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        self.buffer.append(contentsOf: bytes)
    }

    /// The first bytes not yet consumed, for error messages about a peer that speaks something else.
    package var pendingExcerpt: String {
        String(decoding: self.buffer[self.start...].prefix(120), as: UTF8.self)
    }

    /// The next complete message, if the buffer holds one.
    ///
    /// - Throws: ``MLDeploy/MLDeployError`` (``MLDeploy/MLDeployError/Code/invalidResponse``) when the
    ///   bytes are not a framed message (no `Content-Length`, a header line that is not `Name: value`,
    ///   a body that is not a JSON object).
    package mutating func next() throws -> PluginMessage? {
        let available = self.buffer.count - self.start
        guard available > 0 else { return nil }
        // Find the end of the header block (\r\n\r\n); a peer that prints text instead of frames
        // is caught as soon as its first line is not a header.
        var end: Int?
        var index = self.start
        let limit = self.buffer.count
        while index + 3 < limit {
            if self.buffer[index] == 13, self.buffer[index + 1] == 10, self.buffer[index + 2] == 13, self.buffer[index + 3] == 10 {
                end = index
                break
            }
            index += 1
        }
        guard let headerEnd = end else {
            if available > 8192 || !Self.couldBeHeader(self.buffer[self.start...]) {
                throw self.notProtocol()
            }
            return nil
        }
        let headerText = String(decoding: self.buffer[self.start..<headerEnd], as: UTF8.self)
        var contentLength: Int?
        var attachmentLengths: [Int] = []
        for line in headerText.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else { throw self.notProtocol() }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-length":
                guard let length = Int(value), length >= 0 else { throw self.notProtocol() }
                contentLength = length
            case "mldeploy-attachments":
                attachmentLengths = try value.split(separator: ",").map { part in
                    guard let length = Int(part.trimmingCharacters(in: .whitespaces)), length >= 0 else { throw self.notProtocol() }
                    return length
                }
            default:
                break
            }
        }
        guard let length = contentLength else { throw self.notProtocol() }
        let bodyStart = headerEnd + 4
        let total = bodyStart - self.start + length + attachmentLengths.reduce(0, +)
        guard available >= total else { return nil }
        guard case .object(let json) = try JSONValue(parsing: Array(self.buffer[bodyStart..<(bodyStart + length)])) else {
            throw MLDeployError(code: .invalidResponse, message: "A plugin message's body is not a JSON object.")
        }
        var offset = bodyStart + length
        var attachments: [[UInt8]] = []
        attachments.reserveCapacity(attachmentLengths.count)
        for size in attachmentLengths {
            attachments.append(Array(self.buffer[offset..<(offset + size)]))
            offset += size
        }
        self.start += total
        return PluginMessage(json, attachments: attachments)
    }

    /// Whether `bytes` could still become a header block: printable ASCII, lines ended by CR LF,
    /// each line a header name (letters, digits, `-`) then `:` and a value. A peer that prints
    /// text, or JSON without framing, fails this at once.
    private static func couldBeHeader(_ bytes: ArraySlice<UInt8>) -> Bool {
        var previous: UInt8 = 10
        var inName = true
        var lineLength = 0
        for byte in bytes {
            if previous == 13, byte != 10 { return false }
            switch byte {
            case 10:
                guard previous == 13 else { return false }
                inName = true
                lineLength = 0
            case 13:
                if inName, lineLength > 0 { return false }  // a line with no colon
            case 58 where inName:
                guard lineLength > 0 else { return false }
                inName = false
                lineLength += 1
            case 32...126:
                if inName, !(byte == 45 || (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)) { return false }
                lineLength += 1
            default:
                return false
            }
            previous = byte
        }
        return true
    }

    private func notProtocol() -> MLDeployError {
        MLDeployError(code: .invalidResponse, message: "The bytes are not a plugin protocol message (expected 'Content-Length: N' headers): '\(self.pendingExcerpt)'.")
    }
}
