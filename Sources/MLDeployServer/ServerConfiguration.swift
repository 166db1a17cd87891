/// How `MLDeployServer` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind; loopback by default, so nothing is exposed until asked.
    public var host = "127.0.0.1"
    /// The port; ML Server's default web-node port. `0` picks a free one (see ``MLDeployServer/port``).
    public var port = 12800
    /// The largest JSON request body accepted (bytes).
    public var maximumJSONBodySize = 16 << 20
    /// The largest workspace-object or model upload accepted (bytes).
    public var maximumUploadSize = 1 << 30

    /// The defaults: `127.0.0.1:12800`, 16 MiB JSON bodies, 1 GiB uploads.
    public init() {}
}
