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
    /// The most connections served at once; beyond it, new connections wait in the kernel's
    /// backlog until one closes (keep it below the process's open-file limit).
    public var maximumConnections = 512

    /// The defaults: `127.0.0.1:12800`, data in `./mldeploy-data`, 1 h access and 14-day refresh
    /// tokens, 16 MiB JSON bodies, 1 GiB uploads, 30 s idle timeout, 512 connections.
    public init() {}
}
