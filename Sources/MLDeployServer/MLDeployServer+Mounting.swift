import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

extension MLDeployServer {
    /// Adds every route of the server to a host application's `router` under `prefix` (`"/ml"`):
    /// `POST /ml/login`, `GET /ml/services`, `POST /ml/api/{name}/{version}`, `POST
    /// /ml/v2/models/{name}/infer`… The host's router middleware added before this call runs around
    /// them (its logging, its CORS, its own metrics); the server's own middleware — tracing, request
    /// metrics, access log, sign-in, route access — runs inside, exactly as under `mldeploy serve`.
    ///
    /// Inside, the server sees paths without the prefix, so its route table, role checks and
    /// documents are those of a root server; a service's OpenAPI document names the prefixed URL as
    /// its server. Clients — the Python SDK included — are given `http://HOST:PORT/ml` as the
    /// server's address.
    ///
    /// ```swift
    /// let router = Router()
    /// router.get("/hello") { _, _ in "hello" }
    /// server.mount(on: router, at: "/ml")
    /// let app = Application(router: router, configuration: .init(address: .hostname("0.0.0.0", port: 8080)))
    /// try await ServiceGroup(configuration: .init(services: [server.service(url: "http://host:8080/ml/"), app], logger: logger)).run()
    /// ```
    ///
    /// Run ``service(url:shutsDownClient:)`` in the same `ServiceGroup`, *before* the application:
    /// the group stops services in reverse order, so the host's HTTP server finishes the requests in
    /// flight before the server's workers stop.
    ///
    /// - Parameters:
    ///   - router: The host's router, or a group of it; any request context type.
    ///   - prefix: The path the server answers under: one or more segments (`"/ml"`, `"/api/deploy"`),
    ///     with or without the leading slash. An empty prefix or `"/"` mounts at the root.
    public func mount<Context: RequestContext>(on router: some RouterMethods<Context>, at prefix: String) {
        let prefix = Self.normalizedMountPrefix(prefix)
        let responder = MountedServerResponder<Context>(inner: self.makeRouter().buildResponder(), prefix: prefix)
        // Every method any route of the server answers; other methods get the host's 404 (the
        // inner router would answer them 404 too).
        let methods: [HTTPRequest.Method] = [.get, .post, .delete, .patch, .put, .head]
        for method in methods {
            router.on(RouterPath(prefix + "/**"), method: method, responder: responder)
        }
    }

    /// `"ml/"` → `"/ml"`; `"/"`, `""` → `""`.
    static func normalizedMountPrefix(_ prefix: String) -> String {
        let segments = prefix.split(separator: "/", omittingEmptySubsequences: true)
        return segments.isEmpty ? "" : "/" + segments.joined(separator: "/")
    }
}

/// Hands a host application's request under the mount prefix to the server's own router: the path
/// without the prefix, a ``ServerRequestContext`` made from the host's.
struct MountedServerResponder<HostContext: RequestContext>: HTTPResponder {
    typealias Context = HostContext
    let inner: RouterResponder<ServerRequestContext>
    let prefix: String

    func respond(to request: Request, context: HostContext) async throws -> Response {
        var head = request.head
        let path = head.path ?? "/"
        if path.hasPrefix(self.prefix) {
            let rest = path.dropFirst(self.prefix.count)
            head.path = rest.isEmpty || rest.first == "?" ? "/" + rest : String(rest)
        }
        return try await self.inner.respond(
            to: Request(head: head, body: request.body),
            context: ServerRequestContext(mountedUnder: self.prefix, host: context)
        )
    }
}
