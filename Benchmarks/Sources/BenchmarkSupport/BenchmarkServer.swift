import Foundation
import Logging
import Metrics
import MLDeploy
import MLDeployServer

/// Serves `client` as the benchmarks' server process does: a free port written to `portFile` once
/// listening, the owner `bench`/`bench`, users and keys in `dataDirectory`; runs until terminated.
/// With `state`, the server keeps its users and tokens there (several nodes on one database share
/// them; the first creates `bench`).
///
/// With `MLDEPLOY_BENCH_METRICS=1` in the environment the process records the framework's metrics
/// (as `mldeploy serve` does) so `GET /metrics` shows where calls spend their time, e.g. the Python
/// stage histogram while a paced run finds a tail; off by default, as recording costs a little.
public func serveForBenchmark(_ client: DeployClient, dataDirectory: String, portFile: String, state: (any ServerStateStore)? = nil) async throws {
    var configuration = ServerConfiguration()
    // MLDEPLOY_BENCH_EVENT_LOOPS=1: every task on the server's event loops (an A/B of that setting).
    if ProcessInfo.processInfo.environment["MLDEPLOY_BENCH_EVENT_LOOPS"] == "1", !MLDeployServer.runTasksOnEventLoops() {
        fatalError("NIO could not install its event loops as the global executor")
    }
    if ProcessInfo.processInfo.environment["MLDEPLOY_BENCH_METRICS"] == "1" {
        MetricsSystem.bootstrap(configuration.metrics.metricsFactory)
    }
    configuration.port = 0
    configuration.dataDirectory = dataDirectory
    let server = try MLDeployServer(client: client, configuration: configuration, state: state, logger: Logger(label: "bench"))
    try await server.users.add("bench", password: "bench", role: .owner, iterations: 1000, onlyIfNoUsers: true)
    try await server.run { port in
        try? "\(port)".write(toFile: portFile, atomically: true, encoding: .utf8)
    }
}

