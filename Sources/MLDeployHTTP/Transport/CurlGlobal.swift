import CCurl
import Foundation

/// libcurl's process-wide initialization, done once, before the first handle is created.
///
/// `curl_global_init` is reference-counted, so sharing the process with FoundationNetworking (which
/// links the same libcurl) is safe.
enum CurlGlobal {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    /// The libcurl version string, e.g. `libcurl/7.88.1 OpenSSL/3.0.22 …`.
    static var version: String {
        _ = Self.initialized
        return String(cString: curl_version())
    }
}
