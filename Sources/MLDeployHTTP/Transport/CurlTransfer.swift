import CCurl
import CCurlShims
import Foundation
import MLDeploy
import Synchronization

/// Everything the loop needs to run one request, resolved from the client's configuration before the
/// request is handed over.
struct TransferSettings: Sendable {
    var totalTimeout: Duration?
    var proxy: String?
    var noProxy: String?
    var maximumRedirects: Int
    var maximumBufferedSize: Int
    var streamBufferSize: Int
}

/// One request in flight: its inputs, and the state libcurl's callbacks build up on the loop thread.
///
/// After ``CurlLoop/start(_:)`` every mutable field is touched only by the loop thread, which is why
/// the class can be `@unchecked Sendable`; ``cancelRequested`` is the one field other threads write.
final class CurlTransfer: @unchecked Sendable {
    enum Mode {
        case buffered
        case streamed
    }

    let request: HTTPRequest
    let headerLines: [String]
    let settings: TransferSettings
    let mode: Mode
    /// Set by the cancelling task before it asks the loop to cancel, so a cancellation that races the
    /// start is never lost.
    let cancelRequested = Atomic<Bool>(false)

    // Loop-thread state.
    /// The pooled handle the transfer runs on, from ``configure(_:)`` on.
    var handle: CurlHandle?
    var responseHeaders = HTTPHeaders()
    var body: [UInt8] = []
    /// Why the transfer was aborted from a callback (too large, the upload source failed).
    var abortReason: (any Error)?
    var delivered = false
    /// Resumed exactly once, by ``resume(_:)`` or ``deliverHead()``, which clear it first (unsafe,
    /// not checked: the checked kind allocates a box per request, and this one is resumed in two
    /// places only).
    var continuation: UnsafeContinuation<HTTPResponse, any Error>?
    var downstream: ResponseStream?
    var upload: UploadPump?
    var uploadTask: Task<Void, Never>?

    init(request: HTTPRequest, headerLines: [String], settings: TransferSettings, mode: Mode) {
        self.request = request
        self.headerLines = headerLines
        self.settings = settings
        self.mode = mode
    }

    /// The transfer's easy handle, from ``configure(_:)`` on.
    var easy: UnsafeMutableRawPointer? { self.handle?.easy }

    /// An opaque pointer to this transfer for libcurl's callbacks (the loop keeps it alive).
    var userData: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ userData: UnsafeMutableRawPointer?) -> CurlTransfer {
        Unmanaged<CurlTransfer>.fromOpaque(userData!).takeUnretainedValue()
    }

    // MARK: Callbacks (loop thread)

    /// Room made for a response's headers at its status line: most responses have fewer.
    static let expectedHeaderCount = 12

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        // Byte-level parsing: this runs for every header of every response, on the loop thread.
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var end = bytes.count
        while end > 0, isSpace(bytes[end - 1]) { end -= 1 }
        guard end > 0 else { return }
        if end >= 5, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/")
        {
            self.responseHeaders = HTTPHeaders()  // a new response (after a redirect or 100 Continue)
            self.responseHeaders.reserveCapacity(Self.expectedHeaderCount)
            return
        }
        guard let colon = bytes[0..<end].firstIndex(of: UInt8(ascii: ":")) else { return }
        var start = colon + 1
        while start < end, isSpace(bytes[start]) { start += 1 }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<colon]), as: UTF8.self)
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        self.responseHeaders.add(name, value)
    }

    /// Returns how many bytes were taken: all, 0 to abort, or `CURL_WRITEFUNC_PAUSE`.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch self.mode {
        case .buffered:
            guard self.body.count + bytes.count <= self.settings.maximumBufferedSize else {
                self.abortReason = HTTPBody.tooLarge(self.settings.maximumBufferedSize)
                return 0
            }
            self.body.append(contentsOf: bytes)
            return bytes.count
        case .streamed:
            self.deliverHead()
            return self.downstream!.offer(bytes) ? bytes.count : Int(CURL_WRITEFUNC_PAUSE)
        }
    }

    // MARK: Outcome (loop thread)

    /// Resumes the waiting task with the status and headers, and the body stream (streamed mode).
    private func deliverHead() {
        guard !self.delivered, let continuation = self.continuation else { return }
        self.delivered = true
        self.continuation = nil
        let reader = ResponseStreamReader(self.downstream!)
        let body = HTTPBody(
            storage: .stream(SingleUseStream { { try await reader.stream.next() } }),
            length: self.responseHeaders["Content-Length"].flatMap(Int.init)
        )
        continuation.resume(returning: HTTPResponse(status: self.status, headers: self.responseHeaders, body: body, version: self.version))
    }

    private var status: Int {
        var code = 0
        if let easy = self.easy { _ = mld_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) }
        return code
    }

    private var version: HTTPVersion? {
        var version = 0
        if let easy = self.easy { _ = mld_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version) }
        switch version {
        case Int(CURL_HTTP_VERSION_1_0), Int(CURL_HTTP_VERSION_1_1): return .http1
        case Int(CURL_HTTP_VERSION_2_0): return .http2
        case Int(CURL_HTTP_VERSION_3): return .http3
        default: return nil
        }
    }

    /// libcurl finished the transfer with `code`.
    func complete(_ code: CURLcode) {
        self.upload?.stop()
        self.uploadTask?.cancel()
        if code == CURLE_OK, self.abortReason == nil {
            switch self.mode {
            case .buffered:
                self.resume(.success(HTTPResponse(status: self.status, headers: self.responseHeaders, body: .bytes(self.body), version: self.version)))
            case .streamed:
                self.deliverHead()
                self.downstream?.finish(nil)
            }
            return
        }
        self.fail(CurlFailure.error(for: code, transfer: self))
    }

    /// Ends the transfer with `error`: the waiting task, or the body's reader, gets it.
    func fail(_ error: any Error) {
        self.upload?.stop()
        self.uploadTask?.cancel()
        if self.delivered {
            self.downstream?.finish(error)
        } else {
            self.resume(.failure(error))
        }
    }

    private func resume(_ result: Result<HTTPResponse, any Error>) {
        guard let continuation = self.continuation else { return }
        self.continuation = nil
        self.delivered = true
        continuation.resume(with: result)
    }

    /// Whether any byte of the request was written to the connection (for the retry decision).
    var requestWasSent: Bool {
        var size = 0
        if let easy = self.easy { _ = mld_easy_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &size) }
        return size > 0
    }
}

// MARK: - C callbacks

let curlWriteCallback: mld_data_callback = { buffer, size, count, userData in
    CurlTransfer.from(userData).receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
}

let curlHeaderCallback: mld_data_callback = { buffer, size, count, userData in
    CurlTransfer.from(userData).receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
    return size * count
}

let curlReadCallback: mld_data_callback = { buffer, size, count, userData in
    CurlTransfer.from(userData).upload?.read(into: buffer!, capacity: size * count) ?? 0
}
