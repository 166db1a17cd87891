import CCurl
import CCurlShims
import Foundation
import MLDeploy

extension CurlTransfer {
    /// Sets every libcurl option of this transfer on `easy` (a fresh or reset handle). Loop thread.
    ///
    /// String options are copied by libcurl (7.17+), so temporaries are fine.
    func configure(_ easy: UnsafeMutableRawPointer) throws {
        self.easy = easy
        var failed: (String, CURLcode)?
        func check(_ code: CURLcode, _ option: String) {
            if code != CURLE_OK, failed == nil { failed = (option, code) }
        }
        func set(_ option: CURLoption, _ value: Int, _ name: String) { check(mld_easy_setopt_long(easy, option, value), name) }
        func set(_ option: CURLoption, _ value: String?, _ name: String) {
            if let value {
                check(value.withCString { mld_easy_setopt_string(easy, option, $0) }, name)
            } else {
                check(mld_easy_setopt_pointer(easy, option, nil), name)
            }
        }

        set(CURLOPT_URL, self.request.url.absoluteString, "URL")
        set(CURLOPT_NOSIGNAL, 1, "NOSIGNAL")
        check(mld_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, self.errorBuffer), "ERRORBUFFER")
        set(CURLOPT_TCP_KEEPALIVE, 1, "TCP_KEEPALIVE")

        // Callbacks.
        check(mld_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback), "WRITEFUNCTION")
        check(mld_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, self.userData), "WRITEDATA")
        check(mld_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback), "HEADERFUNCTION")
        check(mld_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, self.userData), "HEADERDATA")

        // Method and body.
        let method = self.request.method
        switch self.request.body?.storage {
        case .bytes(let bytes)?:
            set(CURLOPT_POST, 1, "POST")
            check(mld_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)), "POSTFIELDSIZE_LARGE")
            bytes.withUnsafeBytes { raw in
                check(mld_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)), "COPYPOSTFIELDS")
            }
            if method != .post { set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST") }
        case .stream?:
            set(CURLOPT_POST, 1, "POST")
            check(mld_easy_setopt_callback(easy, CURLOPT_READFUNCTION, curlReadCallback), "READFUNCTION")
            check(mld_easy_setopt_pointer(easy, CURLOPT_READDATA, self.userData), "READDATA")
            check(mld_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(self.request.body?.length ?? -1)), "POSTFIELDSIZE_LARGE")
            if method != .post { set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST") }
        case nil:
            switch method {
            case .get: set(CURLOPT_HTTPGET, 1, "HTTPGET")
            case .head: set(CURLOPT_NOBODY, 1, "NOBODY")
            default: set(CURLOPT_CUSTOMREQUEST, method.rawValue, "CUSTOMREQUEST")
            }
        }

        // Headers. "Expect:" turns off libcurl's 100-continue wait for larger bodies.
        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for line in self.headerLines {
            list = curl_slist_append(list, line)
        }
        self.headerList = list
        check(mld_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list), "HTTPHEADER")

        // Timeouts (0 means none to libcurl).
        set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(self.settings.connectTimeout), "CONNECTTIMEOUT_MS")
        set(CURLOPT_TIMEOUT_MS, Self.milliseconds(self.settings.totalTimeout), "TIMEOUT_MS")

        // Redirects.
        set(CURLOPT_FOLLOWLOCATION, self.settings.maximumRedirects > 0 ? 1 : 0, "FOLLOWLOCATION")
        set(CURLOPT_MAXREDIRS, self.settings.maximumRedirects, "MAXREDIRS")

        // Content.
        set(CURLOPT_ACCEPT_ENCODING, self.settings.decompression ? "" : nil, "ACCEPT_ENCODING")
        set(CURLOPT_HTTP_VERSION, self.settings.httpVersion == .http1Only ? Int(CURL_HTTP_VERSION_1_1) : Int(CURL_HTTP_VERSION_2TLS), "HTTP_VERSION")
        if self.mode == .buffered {
            check(mld_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(self.settings.maximumBufferedSize)), "MAXFILESIZE_LARGE")
        } else {
            set(CURLOPT_BUFFERSIZE, 256 * 1024, "BUFFERSIZE")
        }

        // Proxy: always explicit, so libcurl never reads the environment on its own.
        set(CURLOPT_PROXY, self.settings.proxy ?? "", "PROXY")
        set(CURLOPT_NOPROXY, self.settings.noProxy, "NOPROXY")

        // TLS.
        let tls = self.settings.tls
        set(CURLOPT_SSL_VERIFYPEER, tls.verify ? 1 : 0, "SSL_VERIFYPEER")
        set(CURLOPT_SSL_VERIFYHOST, tls.verify ? 2 : 0, "SSL_VERIFYHOST")
        set(CURLOPT_PROXY_SSL_VERIFYPEER, tls.verify ? 1 : 0, "PROXY_SSL_VERIFYPEER")
        if let bundle = tls.caBundle {
            set(CURLOPT_CAINFO, bundle, "CAINFO")
            set(CURLOPT_PROXY_CAINFO, bundle, "PROXY_CAINFO")
        }
        if let directory = tls.caDirectory {
            set(CURLOPT_CAPATH, directory, "CAPATH")
        }
        if let client = tls.clientCertificate {
            set(CURLOPT_SSLCERT, client.certificatePath, "SSLCERT")
            set(CURLOPT_SSLCERTTYPE, client.format, "SSLCERTTYPE")
            set(CURLOPT_SSLKEY, client.privateKeyPath, "SSLKEY")
            set(CURLOPT_SSLKEYTYPE, client.format == "P12" ? "PEM" : client.format, "SSLKEYTYPE")
            if let passphrase = client.passphrase { set(CURLOPT_KEYPASSWD, passphrase, "KEYPASSWD") }
        }
        if let minimum = tls.minimumVersion {
            let value: Int
            switch minimum {
            case .tls1_0: value = CURL_SSLVERSION_TLSv1_0
            case .tls1_1: value = CURL_SSLVERSION_TLSv1_1
            case .tls1_2: value = CURL_SSLVERSION_TLSv1_2
            case .tls1_3: value = CURL_SSLVERSION_TLSv1_3
            }
            set(CURLOPT_SSLVERSION, value, "SSLVERSION")
        }

        if let (option, code) = failed {
            throw MLDeployError(
                code: .invalidRequest,
                message: "libcurl refused option \(option): \(String(cString: curl_easy_strerror(code))). Check the HTTP client configuration."
            )
        }
    }

    static func milliseconds(_ duration: Duration?) -> Int {
        guard let duration else { return 0 }
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
