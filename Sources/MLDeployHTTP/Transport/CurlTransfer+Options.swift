import CCurl
import CCurlShims
import Foundation
import MLDeploy

/// The options every transfer of one client shares, set once on each easy handle when the loop
/// creates it. Handles are reused without `curl_easy_reset`: resetting frees and rebuilds libcurl's
/// per-handle state, which showed up as a sixth of the loop thread's time in profiles.
struct HandleDefaults: Sendable {
    var connectTimeout: Duration?
    var tls: HTTPClient.TLS
    var maximumRedirects: Int
    var decompression: Bool
    var httpVersion: HTTPClient.HTTPVersionPreference

    init(_ configuration: HTTPClient.Configuration) {
        self.connectTimeout = configuration.timeout.connect
        self.tls = configuration.tls
        self.maximumRedirects = configuration.redirects.maximum
        self.decompression = configuration.decompression
        self.httpVersion = configuration.httpVersion
    }

    /// Sets the shared options on a new handle.
    func apply(to easy: UnsafeMutableRawPointer) throws {
        var options = OptionSetter(easy)
        options.set(CURLOPT_NOSIGNAL, 1, "NOSIGNAL")
        options.set(CURLOPT_TCP_KEEPALIVE, 1, "TCP_KEEPALIVE")
        // Only HTTP(S), also for redirects: a middleware or a server cannot steer a request to file:// or ftp://.
        options.set(CURLOPT_PROTOCOLS_STR, "http,https", "PROTOCOLS_STR")
        options.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "REDIR_PROTOCOLS_STR")
        options.check(mld_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback), "WRITEFUNCTION")
        options.check(mld_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback), "HEADERFUNCTION")
        options.check(mld_easy_setopt_callback(easy, CURLOPT_READFUNCTION, curlReadCallback), "READFUNCTION")
        options.set(CURLOPT_CONNECTTIMEOUT_MS, CurlTransfer.milliseconds(self.connectTimeout), "CONNECTTIMEOUT_MS")
        options.set(CURLOPT_FOLLOWLOCATION, self.maximumRedirects > 0 ? 1 : 0, "FOLLOWLOCATION")
        options.set(CURLOPT_MAXREDIRS, self.maximumRedirects, "MAXREDIRS")
        options.set(CURLOPT_ACCEPT_ENCODING, self.decompression ? "" : nil, "ACCEPT_ENCODING")
        options.set(
            CURLOPT_HTTP_VERSION,
            self.httpVersion == .http1Only ? Int(CURL_HTTP_VERSION_1_1) : Int(CURL_HTTP_VERSION_2TLS),
            "HTTP_VERSION"
        )

        let tls = self.tls
        options.set(CURLOPT_SSL_VERIFYPEER, tls.verify ? 1 : 0, "SSL_VERIFYPEER")
        options.set(CURLOPT_SSL_VERIFYHOST, tls.verify ? 2 : 0, "SSL_VERIFYHOST")
        options.set(CURLOPT_PROXY_SSL_VERIFYPEER, tls.verify ? 1 : 0, "PROXY_SSL_VERIFYPEER")
        if let bundle = tls.caBundle {
            options.set(CURLOPT_CAINFO, bundle, "CAINFO")
            options.set(CURLOPT_PROXY_CAINFO, bundle, "PROXY_CAINFO")
        }
        if let directory = tls.caDirectory {
            options.set(CURLOPT_CAPATH, directory, "CAPATH")
        }
        if let client = tls.clientCertificate {
            options.set(CURLOPT_SSLCERT, client.certificatePath, "SSLCERT")
            options.set(CURLOPT_SSLCERTTYPE, client.format, "SSLCERTTYPE")
            options.set(CURLOPT_SSLKEY, client.privateKeyPath, "SSLKEY")
            options.set(CURLOPT_SSLKEYTYPE, client.format == "P12" ? "PEM" : client.format, "SSLKEYTYPE")
            if let passphrase = client.passphrase { options.set(CURLOPT_KEYPASSWD, passphrase, "KEYPASSWD") }
        }
        if let minimum = tls.minimumVersion {
            let value: Int
            switch minimum {
            case .tls1_0: value = CURL_SSLVERSION_TLSv1_0
            case .tls1_1: value = CURL_SSLVERSION_TLSv1_1
            case .tls1_2: value = CURL_SSLVERSION_TLSv1_2
            case .tls1_3: value = CURL_SSLVERSION_TLSv1_3
            }
            options.set(CURLOPT_SSLVERSION, value, "SSLVERSION")
        }
        try options.finish()
    }
}

/// Sets libcurl options, remembering the first one libcurl refused.
struct OptionSetter {
    let easy: UnsafeMutableRawPointer
    private var failed: (String, CURLcode)?

    init(_ easy: UnsafeMutableRawPointer) {
        self.easy = easy
    }

    mutating func check(_ code: CURLcode, _ option: String) {
        if code != CURLE_OK, self.failed == nil { self.failed = (option, code) }
    }

    mutating func set(_ option: CURLoption, _ value: Int, _ name: String) {
        self.check(mld_easy_setopt_long(self.easy, option, value), name)
    }

    /// Strings are copied by libcurl (7.17+), so temporaries are fine; `nil` restores the default.
    mutating func set(_ option: CURLoption, _ value: String?, _ name: String) {
        if let value {
            self.check(value.withCString { mld_easy_setopt_string(self.easy, option, $0) }, name)
        } else {
            self.check(mld_easy_setopt_pointer(self.easy, option, nil), name)
        }
    }

    mutating func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?, _ name: String) {
        self.check(mld_easy_setopt_pointer(self.easy, option, pointer), name)
    }

    mutating func set(_ option: CURLoption, size: Int, _ name: String) {
        self.check(mld_easy_setopt_off_t(self.easy, option, curl_off_t(size)), name)
    }

    func finish() throws {
        if let (option, code) = self.failed {
            throw MLDeployError(
                code: .invalidRequest,
                message: "libcurl refused option \(option): \(String(cString: curl_easy_strerror(code))). Check the HTTP client configuration."
            )
        }
    }
}

extension CurlTransfer {
    /// Sets this transfer's own options on `handle`, which carries the client's ``HandleDefaults``
    /// and possibly a previous transfer's options: everything a request can change is set here
    /// whenever it differs from what the handle last had, including back to its default. Loop thread.
    func configure(_ handle: CurlHandle) throws {
        let easy = handle.easy
        self.handle = handle
        handle.errorBuffer.pointee = 0
        var options = OptionSetter(easy)
        let url = self.request.url.absoluteString
        if CurlHandle.changes(&handle.url, to: url) { options.set(CURLOPT_URL, url, "URL") }
        options.set(CURLOPT_WRITEDATA, pointer: self.userData, "WRITEDATA")
        options.set(CURLOPT_HEADERDATA, pointer: self.userData, "HEADERDATA")
        options.set(CURLOPT_READDATA, pointer: self.userData, "READDATA")

        // Method and body. HTTPGET returns the handle to a plain GET (no body, not HEAD) first.
        let method = self.request.method
        let plainGet = method == .get && self.request.body == nil
        if !(plainGet && handle.wasPlainGet) {
            options.set(CURLOPT_HTTPGET, 1, "HTTPGET")
            options.set(CURLOPT_CUSTOMREQUEST, nil as String?, "CUSTOMREQUEST")
        }
        handle.wasPlainGet = plainGet
        switch self.request.body?.storage {
        case .bytes(let bytes)?:
            options.set(CURLOPT_POST, 1, "POST")
            options.set(CURLOPT_POSTFIELDSIZE_LARGE, size: bytes.count, "POSTFIELDSIZE_LARGE")
            bytes.withUnsafeBytes { raw in
                options.set(CURLOPT_COPYPOSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!), "COPYPOSTFIELDS")
            }
            if method != .post { options.set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST") }
        case .stream?:
            options.set(CURLOPT_POST, 1, "POST")
            options.set(CURLOPT_POSTFIELDS, pointer: nil, "POSTFIELDS")  // read from the callback, not a previous copy
            options.set(CURLOPT_POSTFIELDSIZE_LARGE, size: self.request.body?.length ?? -1, "POSTFIELDSIZE_LARGE")
            if method != .post { options.set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST") }
        case nil:
            switch method {
            case .get: break
            case .head: options.set(CURLOPT_NOBODY, 1, "NOBODY")
            default: options.set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST")
            }
        }

        handle.setHeaderLines(self.headerLines, &options)

        let timeout = Self.milliseconds(self.settings.totalTimeout)
        if CurlHandle.changes(&handle.timeout, to: timeout) { options.set(CURLOPT_TIMEOUT_MS, timeout, "TIMEOUT_MS") }
        let maximumFileSize = self.mode == .buffered ? self.settings.maximumBufferedSize : 0
        if CurlHandle.changes(&handle.maximumFileSize, to: maximumFileSize) {
            options.set(CURLOPT_MAXFILESIZE_LARGE, size: maximumFileSize, "MAXFILESIZE_LARGE")
        }

        // Proxy: always explicit, so libcurl never reads the environment on its own.
        let proxy = self.settings.proxy ?? ""
        if CurlHandle.changes(&handle.proxy, to: proxy) { options.set(CURLOPT_PROXY, proxy, "PROXY") }
        if CurlHandle.changes(&handle.noProxy, to: self.settings.noProxy) { options.set(CURLOPT_NOPROXY, self.settings.noProxy, "NOPROXY") }
        try options.finish()  // on failure the loop drops the handle: its options are in an unknown state
    }

    static func milliseconds(_ duration: Duration?) -> Int {
        guard let duration else { return 0 }
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
