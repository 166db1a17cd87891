import Foundation
import Hummingbird
import MLDeploy

extension Response {
    /// A response whose body is `value` as JSON.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) throws -> Response {
        let bytes = try value.serializedBytes()
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// An empty response (the SDK does not parse these).
    static func empty(_ status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status)
    }
}

extension Request {
    /// The body parsed as JSON, refusing bodies over `limit` bytes (413) and malformed JSON (400).
    /// An empty body is `{}` where the body is optional (`emptyIsObject`), else a 400.
    mutating func json(limit: Int, emptyIsObject: Bool = false) async throws -> JSONValue {
        let buffer = try await self.body(limit: limit)
        if buffer.readableBytes == 0 {
            guard emptyIsObject else { throw ServerError(.badRequest, "This request needs a JSON body.", exceptionType: "invalid-json") }
            return .object([:])
        }
        do {
            return try JSONValue(parsing: Array(buffer.readableBytesView))
        } catch let error as MLDeployError {
            throw ServerError(.badRequest, "The request body is not valid JSON: \(error.message)", exceptionType: "invalid-json")
        }
    }

    /// The whole body written to a new file in `directory` as it arrives, then mapped (and the file
    /// unlinked): an upload lives in the page cache — which the kernel can write back and drop —
    /// never whole on the server's heap, however many arrive at once. Bodies over `limit` bytes are
    /// refused with 413 as soon as they pass it, and their file removed.
    ///
    /// - Throws: 413 `request-too-large`; 503 `storage-failure` when the file cannot be written.
    mutating func spooledBody(limit: Int, directory: URL) async throws -> Data {
        let file = directory.appendingPathComponent(UUID().uuidString)
        guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = try? FileHandle(forWritingTo: file)
        else {
            throw ServerError(MLDeployError(code: .storageFailure, message: "Cannot create the upload file \(file.path)."))
        }
        defer { try? FileManager.default.removeItem(at: file) }
        var total = 0
        do {
            defer { try? handle.close() }
            for try await buffer in self.body {
                total += buffer.readableBytes
                guard total <= limit else {
                    throw ServerError(.contentTooLarge, "The request body is larger than this server accepts (\(limit) bytes).", exceptionType: "request-too-large")
                }
                try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(MLDeployError(code: .storageFailure, message: "Cannot write the upload file \(file.path): \(error)"))
        }
        guard total > 0 else { return Data() }
        return try Data(contentsOf: file, options: .alwaysMapped)
    }

    /// The whole body, refusing bodies over `limit` bytes with 413.
    mutating func body(limit: Int) async throws -> ByteBuffer {
        do {
            return try await self.collectBody(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw ServerError(.contentTooLarge, "The request body is larger than this server accepts (\(limit) bytes).", exceptionType: "request-too-large")
        }
    }
}

extension JSONValue {
    /// The string member `key` of this object: `nil` when absent or `null`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` (400) naming the field when it holds
    ///   another type — a field of the wrong type is an error, never silently ignored.
    func stringMember(_ key: String) throws -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw MLDeployError.invalidArgument("'\(key)' must be a string (or null).")
        }
    }
}
