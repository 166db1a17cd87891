import Foundation
import Logging
import MLDeploy
import MLDeployServer

/// Serves `client` as the benchmarks' server process does: a free port written to `portFile` once
/// listening, the owner `bench`/`bench`, users and keys in `dataDirectory`; runs until terminated.
public func serveForBenchmark(_ client: DeployClient, dataDirectory: String, portFile: String) async throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.dataDirectory = dataDirectory
    let server = try MLDeployServer(client: client, configuration: configuration, logger: Logger(label: "bench"))
    try await server.users.add("bench", password: "bench", role: .owner, iterations: 1000)
    try await server.run { port in
        try? "\(port)".write(toFile: portFile, atomically: true, encoding: .utf8)
    }
}

