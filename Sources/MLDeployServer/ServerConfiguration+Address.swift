#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MLDeploy

extension ServerConfiguration {
    /// Checks that the server could listen on ``host``:``port`` (and ``metricsPort``) now, by
    /// binding a socket there and closing it again.
    ///
    /// `mldeploy serve` calls this before it creates anything — the data directory, the first user,
    /// a store — so a busy port costs nothing and says what to do. (Another process can still take
    /// the port in the instant between this check and the real bind; ``MLDeployServer/run(onReady:)``
    /// reports that the same way.) Port `0` always passes: the system picks a free port.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/addressInUse`` when another process listens there;
    ///   ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for a host that does not resolve or is
    ///   not an address of this machine, or a privileged port without the right to bind it.
    public func checkAddressIsFree() throws {
        if let metricsPort = self.metricsPort {
            if metricsPort == self.port, metricsPort != 0 {
                throw MLDeployError(
                    code: .invalidConfiguration,
                    message: "The metrics port is the API's port (\(metricsPort)). Give the metrics a port of their own (--metrics-port N, server.metrics_port), or leave it unset to serve GET /metrics on the API's port."
                )
            }
            try Self.probe(host: self.host, port: metricsPort, flag: "--metrics-port")
        }
        try Self.probe(host: self.host, port: self.port, flag: "--port")
    }

    /// Binds and closes a socket on `host`:`port`; `flag` is the option that sets the port.
    private static func probe(host: String, port: Int, flag: String) throws {
        guard port != 0 else { return }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw MLDeployError(
                code: .invalidConfiguration,
                message: "The host '\(host)' to listen on does not resolve (\(String(cString: gai_strerror(status)))). Give an address of this machine: --host 127.0.0.1 or --host 0.0.0.0."
            )
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { return }  // cannot probe; the real bind will report
        defer { close(descriptor) }
        // The server's own socket sets SO_REUSEADDR, so connections lingering in TIME_WAIT from a
        // previous run do not count as busy here either.
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 else { return }
        throw Self.bindFailure(errno: errno, host: host, port: port, flag: flag)
    }

    /// The error for a failed bind of `host`:`port`, by `errno`; `flag` is the option that sets the
    /// port (`--port`, `--metrics-port`).
    static func bindFailure(errno code: Int32, host: String, port: Int, flag: String = "--port") -> MLDeployError {
        switch code {
        case EADDRINUSE:
            return MLDeployError(
                code: .addressInUse,
                message: "Port \(port) on \(host) is already in use by another process. Stop it, or pick another port: \(flag) N (\(flag == "--port" ? "or MLDEPLOY_PORT, server.port" : "or MLDEPLOY_METRICS_PORT, server.metrics_port"); \(flag) 0 picks a free one)."
            )
        case EACCES:
            return MLDeployError(code: .invalidConfiguration, message: "Listening on port \(port) needs privileges this process lacks. Pick a port above 1023: \(flag) N.")
        case EADDRNOTAVAIL:
            return MLDeployError(code: .invalidConfiguration, message: "\(host) is not an address of this machine. Listen on one of its addresses: --host 127.0.0.1 or --host 0.0.0.0.")
        default:
            return MLDeployError(code: .invalidConfiguration, message: "Cannot listen on \(host):\(port): \(String(cString: strerror(code))).")
        }
    }
}
