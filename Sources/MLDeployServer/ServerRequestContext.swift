import Foundation
import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus who made the request (set by the
/// authentication middleware).
public struct ServerRequestContext: RequestContext {
    /// Hummingbird's storage.
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user, once the bearer token was checked.
    public var user: String?
    /// The user's role, read when the token was checked (so role changes apply at once).
    public var role: ServerRole?
    /// The access token's claims, once it was checked.
    public var token: TokenService.AccessTokenClaims?
    /// The path prefix the server is mounted under in a host application (`/ml`), or `""` when it
    /// serves from the root: documents that name the server's URL (a service's OpenAPI `servers`)
    /// include it.
    public internal(set) var mountPrefix: String
    /// The connection, so a request whose body is refused unread can end it (Hummingbird would
    /// otherwise wait to read that body to its end before the next request). `nil` when mounted in a
    /// host application, whose context does not expose its connection: the connection is then
    /// closed after the answer instead.
    let channel: (any Channel)?

    /// Creates a context for a request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.user = nil
        self.role = nil
        self.token = nil
        self.mountPrefix = ""
        self.channel = source.channel
    }

    /// A context for a request a host application passed on to the mounted server: the host's
    /// logger (with its request id), nobody signed in yet.
    init(mountedUnder prefix: String, host: some RequestContext) {
        self.coreContext = .init(source: host)
        self.user = nil
        self.role = nil
        self.token = nil
        self.mountPrefix = prefix
        self.channel = nil
    }
}

extension ServerRequestContext {
    /// `error` made to end the connection after it is answered, and the connection's reading
    /// stopped, when `request` carries a body: for a request refused before its body was read, whose
    /// body must not be read (nor waited for) at all. A request without a body keeps its connection.
    func refusingUnreadBody(_ error: ServerError, of request: Request) -> ServerError {
        let declared = request.headers[.contentLength].flatMap(Int.init) ?? 0
        guard declared > 0 || request.headers[.transferEncoding] != nil else { return error }
        var error = error
        error.closesConnection = true
        self.channel?.close(mode: .input, promise: nil)
        return error
    }

    /// The path parameter `name`, percent-decoded: a client may encode any character of a path
    /// segment (`%2D` for `-`), and names are checked on what they spell, not on how they were sent.
    /// (A segment without `%` is returned as it is: Foundation's decoding is costly on every request.)
    ///
    /// - Throws: Hummingbird's 400 when the route has no such parameter.
    func pathParameter(_ name: String) throws -> String {
        let raw = try self.parameters.require(name)
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        return raw.removingPercentEncoding ?? raw
    }
}
