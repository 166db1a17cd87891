import Foundation
#if canImport(Glibc)
import Glibc
import MLDeployTestSupport
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
        // A thread of its own, not Dispatch's global queue: see offThePool.
        (try? await offThePool { self.blockingExchange(port: port, request: request, hangUp: hangUp) }) ?? nil
    }

    /// Sends `head` on a new connection, then one body byte every `interval`, until the server
    /// closes the connection or `limit` passes. Returns how long the server let it trickle, or `nil`
    /// when it never closed it (or the connection failed).
    static func trickle(port: Int, head: String, every interval: Duration, limit: Duration) async -> Duration? {
        (try? await offThePool { self.blockingTrickle(port: port, head: head, every: interval, limit: limit) }) ?? nil
    }

    private static func blockingTrickle(port: Int, head: String, every interval: Duration, limit: Duration) -> Duration? {
        guard let descriptor = self.connect(port: port) else { return nil }
        defer { close(descriptor) }
        let clock = ContinuousClock(), started = clock.now
        guard self.send(Array(head.utf8), on: descriptor) else { return nil }
        let (seconds, attoseconds) = interval.components
        let milliseconds = Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        while clock.now - started < limit {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, milliseconds) > 0 {
                var byte: UInt8 = 0
                if recv(descriptor, &byte, 1, Int32(MSG_PEEK)) <= 0 { return clock.now - started }
                var sink = [UInt8](repeating: 0, count: 4096)
                _ = recv(descriptor, &sink, sink.count, 0)
            }
            guard self.send([0x61], on: descriptor) else { return clock.now - started }
        }
        return nil
    }

    private static func connect(port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    private static func send(_ bytes: [UInt8], on descriptor: Int32) -> Bool {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return false }
            written += count
        }
        return true
    }

    private static func blockingExchange(port: Int, request: String, hangUp: HangUp?) -> String? {
        guard let descriptor = self.connect(port: port) else { return nil }
        defer { close(descriptor) }
        guard self.send(Array(request.utf8), on: descriptor) else { return nil }
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
