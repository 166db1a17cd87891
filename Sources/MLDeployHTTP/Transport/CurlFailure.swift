import CCurl
import Foundation
import MLDeploy

/// What went wrong below HTTP, attached to transport errors as ``MLDeploy/MLDeployError/underlying``
/// so the retry middleware can tell a connection that never carried the request from one that did.
public struct HTTPTransportFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// libcurl's result code (`CURLcode`).
    public var curlCode: Int
    /// Whether any byte of the request reached the connection. When `false`, the server cannot have
    /// acted on it and it is safe to send again whatever its method.
    public var requestWasSent: Bool
    /// libcurl's explanation.
    public var detail: String

    /// `curl error N: detail`.
    public var description: String { "curl error \(self.curlCode): \(self.detail)" }
}

/// Maps libcurl result codes to ``MLDeploy/MLDeployError``s that say what to do.
enum CurlFailure {
    static func error(for code: CURLcode, transfer: CurlTransfer) -> any Error {
        if let reason = transfer.abortReason ?? transfer.upload?.failure {
            return reason
        }
        let detail: String = {
            let buffered = transfer.handle?.errorText ?? ""
            return buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
        }()
        let failure = HTTPTransportFailure(curlCode: Int(code.rawValue), requestWasSent: transfer.requestWasSent, detail: detail)
        let target = Self.describe(transfer.request.url)
        func error(_ kind: MLDeployError.Code, _ message: String) -> MLDeployError {
            MLDeployError(code: kind, message: message, underlying: failure)
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return error(.timeout, "\(transfer.request.method) \(target) timed out (\(detail)). Raise the timeout for this kind of call, or check the server.")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return error(.unreachable, "Cannot resolve the host of \(target): \(detail). Check the host name and DNS.")
        case CURLE_COULDNT_CONNECT:
            return error(.unreachable, "Cannot connect to \(target): \(detail). Is the server running at that address, and reachable (through the proxy, if one is set)?")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_CLIENTCERT, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED:
            return error(
                .tlsFailure,
                "TLS with \(target) failed: \(detail). If the server uses a private CA, set tls.caBundle; if it requires a client certificate, set tls.clientCertificate."
            )
        case _ where (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && (detail.contains("SSL routines") || detail.contains(" alert ")):
            // With TLS 1.3 a refused client certificate arrives as an alert after the handshake.
            return error(
                .tlsFailure,
                "TLS with \(target) failed after the handshake: \(detail). If the server requires a client certificate, set tls.clientCertificate."
            )
        case CURLE_FILESIZE_EXCEEDED:
            return HTTPBody.tooLarge(transfer.settings.maximumBufferedSize)
        case CURLE_TOO_MANY_REDIRECTS:
            return error(.transportFailure, "\(target) redirected more than \(transfer.settings.maximumRedirects) times.")
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return error(.invalidRequest, "\(target) cannot be requested: \(detail).")
        case CURLE_ABORTED_BY_CALLBACK:
            return error(.cancelled, "\(transfer.request.method) \(target) was aborted.")
        default:
            return error(.transportFailure, "\(transfer.request.method) \(target) failed: \(detail).")
        }
    }

    /// `scheme://host:port/path`, without credentials or query (which may hold secrets).
    static func describe(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.user = nil
        components?.password = nil
        components?.query = nil
        return components?.string ?? url.host ?? "the server"
    }
}
