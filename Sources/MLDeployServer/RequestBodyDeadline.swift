import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body arrives too slowly.
///
/// Hummingbird's idle timeout restarts with every body part, so a client sending one byte a
/// minute would hold its connection (and a request handler) forever. This handler gives a body
/// `timeout` from its request head, extended by one second for every `minimumRate` bytes that
/// arrive — a slow but honest upload keeps going, a trickle is cut off (Apache's `mod_reqtimeout`
/// works the same way). Headers are bounded by the idle timeout: no request part is seen until
/// they are complete.
final class RequestBodyDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private let minimumRate: Int
    private var started: NIODeadline?
    private var received = 0
    private var check: Scheduled<Void>?

    /// A deadline of `timeout` plus one second per `minimumRate` bytes received.
    init(timeout: Duration, minimumRate: Int) {
        let (seconds, attoseconds) = timeout.components
        self.timeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        self.minimumRate = max(1, minimumRate)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            // The check is armed once this read burst is over and the body is still incomplete
            // (`channelReadComplete`): most requests arrive whole in one read, and arming and
            // cancelling a timer for each of them was work on every request for nothing.
            self.started = .now()
            self.received = 0
        case .body(let buffer):
            self.received += buffer.readableBytes
        case .end:
            self.started = nil
            self.check?.cancel()
            self.check = nil
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.started != nil, self.check == nil { self.schedule(context) }
        context.fireChannelReadComplete()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.check?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.check?.cancel()
        self.started = nil
        context.fireChannelInactive()
    }

    /// When the body being read must be complete by, given what has arrived so far.
    private var deadline: NIODeadline? {
        self.started.map { $0 + self.timeout + .seconds(Int64(self.received / self.minimumRate)) }
    }

    private func schedule(_ context: ChannelHandlerContext) {
        self.check?.cancel()
        guard let deadline = self.deadline else { return }
        let loop = context.eventLoop.assumeIsolated()
        self.check = loop.scheduleTask(deadline: deadline) {
            self.check = nil
            guard let deadline = self.deadline else { return }
            if deadline <= .now() {
                context.close(promise: nil)
            } else {
                self.schedule(context)
            }
        }
    }
}
