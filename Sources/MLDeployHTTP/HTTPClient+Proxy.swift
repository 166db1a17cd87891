import Foundation

extension HTTPClient {
    /// The forward proxy requests go through.
    ///
    /// - ``environment``: read `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy`/`HTTP_PROXY`
    ///   for http URLs (`ALL_PROXY` as a fallback), and `no_proxy`/`NO_PROXY`, when the client is
    ///   created. Unlike the Python SDK, whose proxy setting is silently ignored, this is honoured.
    /// - ``explicit(_:noProxy:)``: one proxy URL, with credentials if needed
    ///   (`http://user:pass@proxy:3128`), and hosts that bypass it.
    /// - ``none``: direct connections, whatever the environment says.
    ///
    /// The no-proxy list takes host names (`example.com` also matches its subdomains; a leading dot
    /// is allowed), IP addresses, CIDR ranges and `*` (everything).
    public struct Proxy: Sendable, Hashable, CustomStringConvertible {
        enum Source: Sendable, Hashable {
            case environment([String: String]?)
            case explicit(url: String, noProxy: [String])
            case none
        }

        let source: Source

        /// Read from the process environment when the client is created.
        public static let environment = Proxy(source: .environment(nil))

        /// Read from `variables` (as if they were the environment).
        public static func environment(_ variables: [String: String]) -> Proxy {
            Proxy(source: .environment(variables))
        }

        /// Always this proxy, except for the `noProxy` hosts.
        public static func explicit(_ url: String, noProxy: [String] = []) -> Proxy {
            Proxy(source: .explicit(url: url, noProxy: noProxy))
        }

        /// Never a proxy.
        public static let none = Proxy(source: .none)

        /// The source, with credentials in proxy URLs hidden.
        public var description: String {
            switch self.source {
            case .environment(let variables): return variables == nil ? "environment" : "environment(given)"
            case .explicit(let url, let noProxy): return "explicit(\(Self.redacted(url)), noProxy: \(noProxy))"
            case .none: return "none"
            }
        }

        /// The proxy settings resolved once: for each scheme, the proxy URL, and the bypass list.
        func resolve() -> ResolvedProxy {
            switch self.source {
            case .none:
                return ResolvedProxy(http: nil, https: nil, noProxy: nil)
            case .explicit(let url, let noProxy):
                return ResolvedProxy(http: url, https: url, noProxy: noProxy.isEmpty ? nil : noProxy.joined(separator: ","))
            case .environment(let given):
                let environment = given ?? ProcessInfo.processInfo.environment
                func variable(_ name: String) -> String? {
                    for key in [name.lowercased(), name.uppercased()] {
                        if let value = environment[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return value }
                    }
                    return nil
                }
                let all = variable("all_proxy")
                return ResolvedProxy(
                    http: variable("http_proxy") ?? all,
                    https: variable("https_proxy") ?? all,
                    noProxy: variable("no_proxy")
                )
            }
        }

        /// `url` with any password replaced by `***`.
        static func redacted(_ url: String) -> String {
            guard var components = URLComponents(string: url), components.password != nil else { return url }
            components.password = "***"
            return components.string ?? url
        }
    }

    /// Proxy settings ready to hand to the transport.
    struct ResolvedProxy: Sendable, Hashable {
        let http: String?
        let https: String?
        let noProxy: String?

        func proxy(for url: URL) -> String? {
            // The same for both schemes (no proxy, the common case): no need to parse the URL's scheme.
            if self.https == self.http { return self.http }
            return url.scheme?.lowercased() == "https" ? self.https : self.http
        }
    }
}
