import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare HTTP/1.1 client over a POSIX socket, for what URLSession cannot do on purpose: hang up in the
/// middle of a request. Blocking I/O runs on a dispatch queue, off Swift's cooperative threads (the
/// server under test shares them).
enum RawClient {
    enum HangUp: Sendable {
        /// Close the connection after `delay`, without reading the answer; with `reset`, abortively
        /// (SO_LINGER 0 sends a TCP RST instead of a FIN).
        case after(Duration, reset: Bool)
    }

    /// Sends `request` on a new connection to 127.0.0.1:`port`. Returns everything the server wrote
    /// until it closed the connection, or `nil` when the client hung up (or could not connect).
    static func exchange(port: Int, request: String, hangUp: HangUp?) async -> String? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.blockingExchange(port: port, request: request, hangUp: hangUp))
            }
        }
    }

    private static func blockingExchange(port: Int, request: String, hangUp: HangUp?) -> String? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(request.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return nil }
            written += count
        }
        if case .after(let delay, let reset) = hangUp {
            let (seconds, attoseconds) = delay.components
            usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
            if reset {
                var linger = linger(l_onoff: 1, l_linger: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
            }
            return nil
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
