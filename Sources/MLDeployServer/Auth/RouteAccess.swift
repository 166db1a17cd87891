import Hummingbird

/// Who may call a route: the least role it needs, and whether callers below Owner reach only
/// what they own. One table for every route the server serves — the authorization middleware
/// enforces it, docs/server.md prints it, and a test walks it for every role — so a new route
/// cannot be added without deciding who may call it (an unlisted route is refused to everyone).
public struct RouteAccess: Sendable, Hashable, CustomStringConvertible {
    /// The least role that may call the route; `nil` for routes open without a token.
    public let minimumRole: ServerRole?
    /// What a caller below Owner reaches, when it is only their own: `"services"` (a name belongs
    /// to whoever first published it; versions are changed by their publisher), `"sessions"`,
    /// `"batches"` (executions belong to who started them). `nil` when the route reaches everything.
    public let ownScope: String?

    /// Open without a token (login, refresh, status).
    public static let open = RouteAccess(minimumRole: nil, ownScope: nil)
    /// Any signed-in user: listing, reading, consuming.
    public static let reader = RouteAccess(minimumRole: .reader, ownScope: nil)

    /// Whether `role` passes the role check (ownership is checked where the resource is known).
    public func admits(_ role: ServerRole?) -> Bool {
        guard let minimum = self.minimumRole else { return true }
        guard let role else { return false }
        return role.rank >= minimum.rank
    }

    /// `Reader+`, `Contributor+ (own sessions)`, `open`.
    public var description: String {
        guard let minimum = self.minimumRole else { return "open" }
        return "\(minimum)+" + (self.ownScope.map { " (own \($0); Owners all)" } ?? "")
    }

    /// Every route, as `METHOD /path/{parameter}` (OpenAPI's spelling), and who may call it.
    public static let table: [String: RouteAccess] = {
        let ownSessions = RouteAccess(minimumRole: .contributor, ownScope: "sessions")
        let ownServices = RouteAccess(minimumRole: .contributor, ownScope: "services")
        let ownBatches = RouteAccess(minimumRole: .reader, ownScope: "batches")
        return [
            "GET /metrics": .open,
            "POST /login": .open,
            "POST /login/refreshToken": .open,
            "DELETE /login/refreshToken": .open,
            "DELETE /login/accessToken": .reader,
            "GET /status": .open,

            // The Open Inference Protocol: probes and server metadata open (as /status is), models
            // as the ML Server API's services — any signed-in user reads and calls them.
            "GET /v2/health/live": .open,
            "GET /v2/health/ready": .open,
            "GET /v2": .open,
            "GET /v2/models/{name}": .reader,
            "GET /v2/models/{name}/versions/{version}": .reader,
            "GET /v2/models/{name}/ready": .reader,
            "GET /v2/models/{name}/versions/{version}/ready": .reader,
            "POST /v2/models/{name}/infer": .reader,
            "POST /v2/models/{name}/versions/{version}/infer": .reader,

            // Sessions run arbitrary code with the server's Python: the publish right, and only
            // one's own.
            "POST /sessions": ownSessions,
            "GET /sessions": ownSessions,
            "DELETE /sessions/{id}": ownSessions,
            "DELETE /sessions/{id}/force": ownSessions,
            "GET /sessions/{id}/workspace": ownSessions,
            "POST /sessions/{id}/workspace/{object}": ownSessions,
            "GET /sessions/{id}/workspace/{object}": ownSessions,
            "DELETE /sessions/{id}/workspace/{object}": ownSessions,
            "POST /sessions/{id}/execute": ownSessions,
            "GET /sessions/{id}/history": ownSessions,
            "GET /sessions/{id}/console-output": ownSessions,
            "POST /sessions/{id}/snapshot": ownSessions,
            "POST /sessions/{id}/loadsnapshot/{snapshot}": ownSessions,
            "GET /snapshots": ownSessions,
            "DELETE /snapshots/{id}": ownSessions,

            "GET /services": .reader,
            "GET /services/{name}": .reader,
            "GET /services/{name}/{version}": .reader,
            "POST /services/{name}": ownServices,
            "POST /services/{name}/{version}": ownServices,
            "PATCH /services/{name}/{version}": ownServices,
            "DELETE /services/{name}/{version}": ownServices,
            "GET /services/{name}/{version}/pool": .reader,
            "POST /services/{name}/{version}/pool": ownServices,
            "DELETE /services/{name}/{version}/pool": ownServices,
            "POST /realtime-services/{name}": ownServices,
            "POST /realtime-services/{name}/{version}": ownServices,
            "PATCH /realtime-services/{name}/{version}": ownServices,

            "POST /api/{name}/{version}": .reader,
            "GET /api/{name}/{version}/swagger.json": .reader,
            "GET /api/{name}/{version}/openapi.json": .reader,
            "POST /api/{name}/{version}/batch": ownBatches,
            "GET /api/{name}/{version}/batch": ownBatches,
            "GET /api/{name}/{version}/batch/{execution}": ownBatches,
            "DELETE /api/{name}/{version}/batch/{execution}": ownBatches,
            "GET /api/{name}/{version}/batch/{execution}/{index}/files": ownBatches,
            "GET /api/{name}/{version}/batch/{execution}/{index}/files/{file}": ownBatches,
        ]
    }()

    /// The methods served on a concrete request path (`/sessions/abc`), sorted; empty when no route
    /// has that shape.
    static func methods(servingPath path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var methods: Set<String> = []
        for key in Self.table.keys {
            let parts = key.split(separator: " ", maxSplits: 1)
            let template = parts[1].split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == segments.count else { continue }
            let matches = zip(template, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix("{") ? !segment.isEmpty : pattern == segment
            }
            if matches { methods.insert(String(parts[0])) }
        }
        return methods.sorted()
    }

    /// The rule for `method` on the route Hummingbird matched (`/sessions/:id`), or `nil`.
    static func rule(method: String, endpointPath: String) -> RouteAccess? {
        Self.table["\(method) \(Self.openAPIPath(endpointPath))"]
    }

    /// A matched route's path in OpenAPI's spelling (`/sessions/{id}`), whether Hummingbird gave it
    /// as `/sessions/:id` or `/sessions/{id}`.
    static func openAPIPath(_ endpointPath: String) -> String {
        // Hummingbird names matched routes in OpenAPI's spelling already: that path is returned as
        // it is, with no splitting and joining on every request.
        if endpointPath.hasPrefix("/"), !endpointPath.utf8.contains(UInt8(ascii: ":")) { return endpointPath }
        let path = endpointPath.split(separator: "/", omittingEmptySubsequences: false).map { component in
            component.hasPrefix(":") ? "{" + component.dropFirst() + "}" : String(component)
        }.joined(separator: "/")
        return path.hasPrefix("/") ? path : "/" + path
    }
}

extension ServerRole {
    /// Owner 2, Contributor 1, Reader 0: a role admits what every lower one may do.
    var rank: Int {
        switch self {
        case .owner: return 2
        case .contributor: return 1
        case .reader: return 0
        }
    }
}

/// Refuses (403) a request whose caller's role is below what its route needs, then (413) one whose
/// declared `Content-Length` is over its route's limit — before the handler runs, so before any
/// body is read or any resource looked up. Runs after authentication, on the route Hummingbird
/// matched. (A body without a declared length is still cut off at the limit while it is read.)
struct AuthorizationMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    /// The limit of JSON bodies.
    let maximumJSONBodySize: Int
    /// The limit of uploads (workspace objects, realtime models).
    let maximumUploadSize: Int

    /// The routes whose body is an upload rather than a JSON document.
    static let uploadRoutes: Set<String> = [
        "/sessions/{id}/workspace/{object}", "/realtime-services/{name}", "/realtime-services/{name}/{version}",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method.rawValue
        guard let endpoint = context.endpointPath else {
            // A path the server serves, with a method it does not: 405 and the methods it takes.
            let allowed = RouteAccess.methods(servingPath: request.uri.path)
            if !allowed.isEmpty {
                var error = ServerError(.methodNotAllowed, "\(method) is not served on \(request.uri.path); it takes \(allowed.joined(separator: ", ")).", exceptionType: "method-not-allowed")
                error.allow = allowed
                throw error
            }
            // No route at all: the router answers 404 after this.
            return try await next(request, context)
        }
        // A refused request's body is never read: the connection ends after the answer.
        guard let rule = RouteAccess.rule(method: method, endpointPath: endpoint) else {
            throw context.refusingUnreadBody(ServerError(.forbidden, "\(method) \(request.uri.path) is not open to anyone.", exceptionType: "permission-denied"), of: request)
        }
        guard rule.admits(context.role) else {
            throw context.refusingUnreadBody(ServerError(
                .forbidden,
                "\(context.user ?? "This user") (\(context.role?.rawValue ?? "no role")) may not \(method) \(request.uri.path): it needs the \(rule.minimumRole?.rawValue ?? "") role or higher.",
                exceptionType: "permission-denied"
            ), of: request)
        }
        let limit = Self.uploadRoutes.contains(RouteAccess.openAPIPath(endpoint)) ? self.maximumUploadSize : self.maximumJSONBodySize
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            // Never read a body refused for its size: stop reading and close after the answer.
            throw context.refusingUnreadBody(ServerError(
                .contentTooLarge, "The request body declares \(declared) bytes, larger than the \(limit) bytes \(method) \(endpoint) takes.", exceptionType: "request-too-large"
            ), of: request)
        }
        return try await next(request, context)
    }
}
