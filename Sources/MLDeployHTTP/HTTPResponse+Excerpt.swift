import Foundation
import MLDeploy

extension HTTPResponse {
    /// A short, single-line excerpt of the body for error messages: markup tags dropped, runs of
    /// white space joined, cut at `limit` characters with an ellipsis. A whole HTML error page in
    /// an error message hides what went wrong; its first words are enough to recognise it.
    public func excerpt(limit: Int = 120) -> String {
        var text = ""
        var inTag = false
        for character in self.text.prefix(limit * 40) {
            switch character {
            case "<": inTag = true
            case ">" where inTag: inTag = false; text.append(" ")
            case _ where inTag: continue
            default: text.append(character)
            }
        }
        let words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return words.count > limit ? String(words.prefix(limit)) + "…" : words
    }

    /// The body's media type without parameters (`text/html`), when the response names one.
    public var mediaType: String? {
        self.headers["Content-Type"].map { $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? $0 }
    }
}

extension MLDeployError {
    /// The error for an answer that is not in the protocol the client speaks — an HTML error page
    /// from a web server or proxy at the target's address, where an ML Server answers JSON.
    ///
    /// Reported as ``MLDeploy/MLDeployError/Code/invalidResponse`` quoting only a short excerpt, never
    /// as a login failure ("check the credentials" sends people the wrong way).
    ///
    /// - Parameters:
    ///   - request: What was asked, for the message (`POST http://host:12800/login`).
    ///   - response: The answer.
    ///   - expected: The kind of server that was expected (`an ML Server or mldeploy serve`).
    public static func foreignAnswer(to request: String, _ response: HTTPResponse, expected: String) -> MLDeployError {
        let type = response.mediaType.map { ", \($0)" } ?? ""
        let excerpt = response.excerpt()
        return MLDeployError(
            code: .invalidResponse,
            message: "\(request) answered HTTP \(response.status)\(type), not as \(expected) does\(excerpt.isEmpty ? "" : ": \"\(excerpt)\""). Check that the target's address points at \(expected).",
            httpStatus: response.status,
            responseBody: String(response.text.prefix(2000))
        )
    }
}
