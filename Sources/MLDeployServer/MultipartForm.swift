import Foundation
import MLDeploy

/// A parsed `multipart/form-data` body (RFC 7578), as the SDK sends realtime models: named parts,
/// a file part with or without its own Content-Type (the SDK's `model` part has none).
struct MultipartForm {
    /// One part: its field name, file name if any, and bytes.
    struct Part {
        let name: String
        let fileName: String?
        let bytes: Data
    }

    let parts: [Part]

    /// The first part named `name`.
    subscript(name: String) -> Part? { self.parts.first { $0.name == name } }

    /// Parses `body` with the boundary from `contentType`. The parts share `body`'s storage (for a
    /// spooled upload, its file mapping): a model part is never copied onto the heap.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` for a missing boundary or a
    ///   malformed body.
    init(contentType: String?, body: Data) throws {
        func malformed(_ detail: String) -> MLDeployError {
            MLDeployError.invalidArgument("The request is not valid multipart/form-data: \(detail).")
        }
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw malformed("its Content-Type is \(contentType ?? "missing"), not multipart/form-data")
        }
        guard let boundaryRange = contentType.range(of: "boundary=", options: .caseInsensitive) else { throw malformed("no boundary") }
        var boundary = String(contentType[boundaryRange.upperBound...].prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces)
        if boundary.hasPrefix("\""), boundary.hasSuffix("\""), boundary.count >= 2 { boundary = String(boundary.dropFirst().dropLast()) }
        // RFC 2046: 1 to 70 characters. A longer one is refused, not searched for: a 1 MB body with
        // a 1,000-character boundary once took the old byte-by-byte search 80 seconds.
        guard !boundary.isEmpty, boundary.utf8.count <= 70 else { throw malformed("a boundary of \(boundary.utf8.count) characters (1 to 70 are allowed)") }
        let delimiter = Array(("--" + boundary).utf8)
        let found = try body.withUnsafeBytes { bytes in try Self.parts(of: bytes, delimiter: delimiter, malformed: malformed) }
        let start = body.startIndex
        self.parts = found.map { Part(name: $0.name, fileName: $0.fileName, bytes: body[(start + $0.range.lowerBound)..<(start + $0.range.upperBound)]) }
    }

    /// The parts of `body`: names, file names and where their bytes are.
    private static func parts(
        of body: UnsafeRawBufferPointer, delimiter: [UInt8], malformed: (String) -> MLDeployError
    ) throws -> [(name: String, fileName: String?, range: Range<Int>)] {
        var parts: [(name: String, fileName: String?, range: Range<Int>)] = []
        guard var position = Self.find(delimiter, in: body, from: 0) else { throw malformed("the boundary never appears") }
        while true {
            position += delimiter.count
            if body.count >= position + 2, body[position] == 0x2D, body[position + 1] == 0x2D { break }  // "--": the end
            guard body.count >= position + 2, body[position] == 0x0D, body[position + 1] == 0x0A else { throw malformed("a boundary is not followed by CRLF") }
            position += 2
            guard let headerEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: position) else { throw malformed("a part has no end of headers") }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = Self.find([0x0D, 0x0A] + delimiter, in: body, from: contentStart) else { throw malformed("a part is not closed by the boundary") }
            var name: String?
            var fileName: String?
            for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                name = Self.parameter("name", in: line)
                fileName = Self.parameter("filename", in: line)
            }
            guard let name else { throw malformed("a part has no Content-Disposition name") }
            parts.append((name, fileName, contentStart..<next))
            position = next + 2
        }
        return parts
    }

    private static func parameter(_ key: String, in line: String) -> String? {
        for piece in line.split(separator: ";").dropFirst() {
            let trimmed = piece.trimmingCharacters(in: .whitespaces)
            guard trimmed.lowercased().hasPrefix(key + "=") else { continue }
            var value = String(trimmed.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// The first occurrence of `needle` in `haystack` at or after `start`, in time linear in the
    /// haystack whatever the bytes are (Knuth–Morris–Pratt: no byte is compared twice against a
    /// mismatching prefix, as the naive search did on adversarial bodies).
    static func find<Bytes: RandomAccessCollection<UInt8>>(_ needle: [UInt8], in haystack: Bytes, from start: Int) -> Int? where Bytes.Index == Int {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        // fallback[i]: the length of the longest proper prefix of needle[0...i] that is also its suffix.
        var fallback = [Int](repeating: 0, count: needle.count)
        var length = 0
        for index in 1..<needle.count {
            while length > 0, needle[index] != needle[length] { length = fallback[length - 1] }
            if needle[index] == needle[length] { length += 1 }
            fallback[index] = length
        }
        var matched = 0
        for index in (haystack.startIndex + start)..<haystack.endIndex {
            while matched > 0, haystack[index] != needle[matched] { matched = fallback[matched - 1] }
            if haystack[index] == needle[matched] { matched += 1 }
            if matched == needle.count { return index - needle.count + 1 - haystack.startIndex }
        }
        return nil
    }
}
