import Foundation
import Logging
import MLDeploy
import MLDeployServer

/// Serves `client` as the benchmarks' server process does: a free port written to `portFile` once
/// listening, the owner `bench`/`bench`, users and keys in `dataDirectory`; runs until terminated.
/// With `state`, the server keeps its users and tokens there (several nodes on one database share
/// them; the first creates `bench`).
public func serveForBenchmark(_ client: DeployClient, dataDirectory: String, portFile: String, state: (any ServerStateStore)? = nil) async throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.dataDirectory = dataDirectory
    let server = try MLDeployServer(client: client, configuration: configuration, state: state, logger: Logger(label: "bench"))
    try await server.users.add("bench", password: "bench", role: .owner, iterations: 1000, onlyIfNoUsers: true)
    try await server.run { port in
        try? "\(port)".write(toFile: portFile, atomically: true, encoding: .utf8)
    }
}

