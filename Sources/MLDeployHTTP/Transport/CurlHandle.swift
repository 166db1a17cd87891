import CCurl
import CCurlShims
import Foundation
import MLDeploy

/// One libcurl easy handle of a loop's pool, with what the last transfer set on it.
///
/// A handle is reused without `curl_easy_reset`, and a transfer sets on it only the options whose
/// value differs from the previous transfer's: a client's requests mostly repeat their URL, proxy,
/// timeout and headers, and every string option set is a copy (and a parse, for the URL) inside
/// libcurl. The header list is kept too and rewritten line by line, so a request whose only new
/// header is its `X-Request-ID` copies one line. Loop thread only.
final class CurlHandle {
    let easy: UnsafeMutableRawPointer
    /// libcurl writes its error explanation here (`CURLOPT_ERRORBUFFER`, set once).
    let errorBuffer: UnsafeMutablePointer<CChar>

    // What the last transfer set (`nil`: nothing yet).
    var url: String?
    /// Whether the last transfer was a body-less GET, the one method and body setup remembered:
    /// any other is set from scratch every time.
    var wasPlainGet = false
    var timeout: Int?
    var maximumFileSize: Int?
    var proxy: String?
    var noProxy: String??
    /// The header lines of `headerList`, in order (the first, `Expect:`, not included).
    var headerLines: [String] = []
    var headerList: UnsafeMutablePointer<curl_slist>?

    /// Creates a handle with the client's shared options.
    init(defaults: HandleDefaults) throws {
        guard let easy = curl_easy_init() else {
            throw MLDeployError(code: .transportFailure, message: "libcurl could not create a handle (out of memory?).")
        }
        self.easy = easy
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        do {
            try defaults.apply(to: easy)
            var options = OptionSetter(easy)
            options.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(self.errorBuffer), "ERRORBUFFER")
            try options.finish()
        } catch {
            curl_easy_cleanup(easy)
            self.errorBuffer.deallocate()
            throw error
        }
    }

    deinit {
        curl_easy_cleanup(self.easy)
        if let headerList { curl_slist_free_all(headerList) }
        self.errorBuffer.deallocate()
    }

    /// Whether `value` differs from what the last transfer set, remembering it: `true` when the
    /// option must be set.
    static func changes<Value: Equatable>(_ remembered: inout Value?, to value: Value) -> Bool {
        guard remembered != value else { return false }
        remembered = value
        return true
    }

    /// The error explanation libcurl left for the last transfer, or `""`.
    var errorText: String { String(cString: self.errorBuffer) }

    /// Makes `lines` (after a leading `Expect:`, which turns off libcurl's 100-continue wait for
    /// larger bodies) the handle's request headers, copying only the lines that changed.
    func setHeaderLines(_ lines: [String], _ options: inout OptionSetter) {
        if let list = self.headerList, lines.count == self.headerLines.count {
            var node = list.pointee.next
            var complete = true
            for (index, line) in lines.enumerated() {
                guard let current = node else { break }
                if line != self.headerLines[index] {
                    // libcurl frees every line with free() (curl_slist_free_all), so strdup is its allocator.
                    guard let copy = line.withCString({ strdup($0) }) else {
                        complete = false  // out of memory: leave this line as it is and build a new list below
                        break
                    }
                    free(current.pointee.data)
                    current.pointee.data = copy
                }
                node = current.pointee.next
            }
            if complete {
                self.headerLines = lines
                return  // the same list stays set: libcurl reads it at each transfer
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for line in lines {
            list = curl_slist_append(list, line)
        }
        options.check(mld_easy_setopt_slist(self.easy, CURLOPT_HTTPHEADER, list), "HTTPHEADER")
        if let old = self.headerList { curl_slist_free_all(old) }
        self.headerList = list
        self.headerLines = lines
    }
}
