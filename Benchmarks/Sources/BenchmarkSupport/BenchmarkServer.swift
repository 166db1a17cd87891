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
    try server.users.add("bench", password: "bench", role: .owner, iterations: 1000)
    try await server.run { port in
        try? "\(port)".write(toFile: portFile, atomically: true, encoding: .utf8)
    }
}

/// Starts a long-running helper (a server) under a shell guard that kills it when this process's
/// end of its stdin pipe closes — at exit, or if the driver is killed — so no server outlives the
/// benchmark. Keep the returned pipe alive as long as the helper should run.
public func runGuarded(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> (Process, Pipe) {
    let stdin = Pipe()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", #"exec 3<&0; "$@" </dev/null & child=$!; cat <&3 >/dev/null; kill $child 2>/dev/null; wait $child"#, "guard", executable] + arguments
    process.standardInput = stdin
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    try process.run()
    return (process, stdin)
}
