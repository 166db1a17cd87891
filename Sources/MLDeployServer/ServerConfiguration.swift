/// How `MLDeployServer` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind; loopback by default, so nothing is exposed until asked.
    public var host = "127.0.0.1"
    /// The port; ML Server's default web-node port. `0` picks a free one (see ``MLDeployServer/port``).
    public var port = 12800
    /// Where users, the token signing key and refresh tokens are kept (owner-only).
    public var dataDirectory = "./mldeploy-data"
    /// How long access tokens live (ML Server: 1 hour).
    public var accessTokenLifetime = Duration.seconds(3600)
    /// How long refresh tokens live (ML Server: 14 days).
    public var refreshTokenLifetime = Duration.seconds(14 * 24 * 3600)
    /// The largest JSON request body accepted (bytes).
    public var maximumJSONBodySize = 16 << 20
    /// The largest workspace-object or model upload accepted (bytes).
    public var maximumUploadSize = 1 << 30
    /// How long a connection may stay open without a request in progress — including one that
    /// never finishes sending its headers — before the server closes it. Slow or idle clients
    /// otherwise hold a socket each until the process runs out of file descriptors.
    public var idleTimeout = Duration.seconds(30)
    /// How long a request body may take to arrive, from its request's head, before the server
    /// closes the connection — extended by one second for every ``minimumBodyRate`` bytes
    /// received, so slow honest uploads finish while a client trickling a byte at a time cannot
    /// hold a connection and a handler forever.
    public var bodyReadTimeout = Duration.seconds(30)
    /// The slowest upload rate (bytes per second) that keeps extending ``bodyReadTimeout``.
    public var minimumBodyRate = 16 << 10
    /// The most connections served at once; beyond it, new connections wait in the kernel's
    /// backlog until one closes (keep it below the process's open-file limit).
    public var maximumConnections = 512
    /// The most authoring sessions one user may have open at once (snapshots: four times as many).
    /// Sessions live in the server's memory; past the limit `POST /sessions` answers 429
    /// `quota-exceeded` until the user closes one.
    public var maximumSessionsPerUser = 16
    /// The bytes one user's session workspaces and snapshots may hold in the server's memory
    /// together; an upload, a run or a snapshot that would go past it is refused with 413
    /// `quota-exceeded`, and nothing of it is kept.
    public var userStorageQuota = 2 << 30
    /// The most calls (consume, session runs) one user may have in flight at once;
    /// past it the server answers 429 `quota-exceeded` with `Retry-After: 1`, so one user's flood
    /// cannot take every connection and queue place from the others.
    public var maximumCallsPerUser = 64
    /// Who may read `GET /metrics`: anyone (`.public`, the default, as Prometheus scrapes without
    /// credentials), signed-in users (`.token`), or nobody (`.off`: the route does not exist).
    public var metricsAccess = MetricsAccess.public
    /// A port of its own for `GET /metrics` on ``host`` (`0` picks a free one), so scrapes reach the
    /// metrics while the API's port stays behind a proxy or a firewall; the API's port then answers
    /// `/metrics` with a 404 naming this port. `nil` (the default): the API's port serves them.
    /// ``metricsAccess`` applies on either port.
    public var metricsPort: Int?
    /// Who besides the server's own users may sign in: each bearer token the server did not issue
    /// goes to these in order (``OIDCAuthenticator`` for an identity provider's tokens). Local
    /// users and their tokens always work.
    public var authenticators: [any Authenticator] = []
    /// Where the server's metrics are kept; bootstrap its ``ServerMetrics/metricsFactory`` as the
    /// process's swift-metrics backend to include the framework's own (as `mldeploy serve` does).
    public var metrics = ServerMetrics()

    /// The defaults: `127.0.0.1:12800`, data in `./mldeploy-data`, 1 h access and 14-day refresh
    /// tokens, 16 MiB JSON bodies, 1 GiB uploads, 30 s idle timeout, bodies within 30 s plus 1 s per 16 KiB,
    /// 512 connections; per user 16 sessions, 2 GiB of workspaces and snapshots, 64 calls at once.
    public init() {}
}

/// Who may read a server's `GET /metrics` (`server.metrics`).
public enum MetricsAccess: String, Sendable, Hashable, CaseIterable {
    /// Anyone, without a token: what Prometheus scrapers expect.
    case `public`
    /// Signed-in users only (any role), with `Authorization: Bearer`.
    case token
    /// Not served.
    case off
}
