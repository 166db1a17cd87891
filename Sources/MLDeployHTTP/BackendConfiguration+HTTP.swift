import Foundation
import MLDeploy

extension BackendConfiguration {
    /// The `http(s)://host:port` base URL of an HTTP backend addressed as `<prefix>+http://…` or
    /// `<prefix>+https://…` (the query string is options, not part of it), or by a host (`http://`
    /// assumed without a scheme); without trailing slashes.
    ///
    /// - Parameters:
    ///   - prefix: The scheme prefix, `mlserver` for `mlserver+http`.
    ///   - backend: The backend's name in messages.
    ///   - example: An address to suggest, e.g. `localhost:12800`.
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidTarget`` for another scheme, no address, or an
    ///   address that is not http(s).
    public func httpBaseURL(schemePrefix prefix: String, backend: String, example: String) throws -> String {
        var address: String
        if let uri = self.uri {
            guard uri.scheme.hasPrefix(prefix + "+") else {
                throw MLDeployError(code: .invalidTarget, message: "The \(backend) backend takes \(prefix)+http:// or \(prefix)+https:// URIs, not '\(uri)'.")
            }
            address = String(uri.scheme.dropFirst(prefix.count + 1)) + ":" + uri.path
        } else if let host = self.host, !host.isEmpty {
            address = host.contains("://") ? host : "http://" + host
        } else {
            throw MLDeployError(
                code: .invalidTarget,
                message: "The \(backend) backend needs the server's address: a host such as http://\(example), or a URI such as \(prefix)+http://\(example)."
            )
        }
        while address.hasSuffix("/") { address.removeLast() }
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host?.isEmpty == false else {
            throw MLDeployError(code: .invalidTarget, message: "'\(address)' is not an http(s) server address (expected e.g. http://\(example)).")
        }
        return address
    }
}
