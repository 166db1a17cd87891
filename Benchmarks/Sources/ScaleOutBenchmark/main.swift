// Scale-out benchmark, in one run on this machine: consume of a trivial Python service through
// `mldeploy serve` with wrk —
//   - one node over a filesystem store (state in files) vs one node over PostgreSQL (services and
//     state in the database): the hot path must not go to the database (target ≥ 0.9×);
//   - one node vs two nodes on one PostgreSQL database, both behind nginx (round robin). On a
//     2-core machine this is not a scaling test (the nodes, nginx, wrk and PostgreSQL share the
//     cores); it is reported anyway.
//
// Usage: ScaleOutBenchmark --uri postgresql://USER@HOST:PORT/DB [--seconds S] [--connections C]
//        ScaleOutBenchmark serve file|postgres PORT-FILE [URI]   (internal: one node)

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import BenchmarkSupport
import FileStoreBackend
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MLDeploy
import MLDeployServer
import PostgresBackend
import PostgresServerState
import ServiceRuntime

setvbuf(stdout, nil, _IOLBF, 0)

// MARK: One node

if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "serve" {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
    let (kind, portFile) = (CommandLine.arguments[2], CommandLine.arguments[3])
    let data = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-scale-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: data) }
    let backend: any Backend
    var state: (any ServerStateStore)?
    if kind == "postgres" {
        let uri = CommandLine.arguments[4]
        backend = PostgresBackend(settings: try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count))), python: .init())
        state = try PostgresServerState(uri: uri)
    } else {
        backend = FileStore(root: data + "/services", python: .init())
    }
    try await withDeployClient(target: .backend(backend)) { client in
        do {
            _ = try await client.service("trivial").version("1").code("y = x * 2").inputs(["x": .numeric]).outputs(["y": .numeric]).deploy()
        } catch let error as MLDeployError where error.code == .conflict {
            // Another node published it.
        }
        try await serveForBenchmark(client, dataDirectory: data, portFile: portFile, state: state)
    }
    exit(0)
}

// MARK: The driver

var uri = ""
var seconds = 10
var connections = 16
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--uri": uri = arguments.next()!
    case "--seconds": seconds = Int(arguments.next()!)!
    case "--connections": connections = Int(arguments.next()!)!
    default: fatalError("usage: ScaleOutBenchmark --uri postgresql://… [--seconds S] [--connections C]")
    }
}
precondition(!uri.isEmpty, "give the database: --uri postgresql://USER@HOST:PORT/DB")

struct NodeFailure: Error, CustomStringConvertible {
    let description: String
}

struct Node {
    let process: GuardedProcess
    let port: Int
}

@MainActor func startNode(_ kind: String) async throws -> Node {
    let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("scale-bench-port-\(getpid())-\(UUID().uuidString.prefix(6))").path
    let process = try GuardedProcess(CommandLine.arguments[0], ["serve", kind, portFile] + (kind == "postgres" ? [uri] : []))
    for _ in 0..<600 {
        if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) { return Node(process: process, port: port) }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw NodeFailure(description: "a \(kind) node did not start")
}

func token(_ base: String) async throws -> String {
    var login = URLRequest(url: URL(string: base + "/login")!)
    login.httpMethod = "POST"
    login.httpBody = Data(#"{"username": "bench", "password": "bench"}"#.utf8)
    return try JSONValue(parsing: Array(try await URLSession.shared.data(for: login).0))["access_token"]!.stringValue!
}

@MainActor func consume(_ base: String) async throws -> WrkResult {
    let bearer = ["Authorization": "Bearer \(try await token(base))", "Content-Type": "application/json"]
    // Warm: the workers start and the version's manifest is cached.
    _ = try wrkPost(base + "/api/trivial/1", body: #"{"x": 21.0}"#, headers: bearer, connections: connections, seconds: 2)
    return try wrkPost(base + "/api/trivial/1", body: #"{"x": 21.0}"#, headers: bearer, connections: connections, seconds: seconds)
}

/// nginx round robin over `ports`; returns it and its port.
func balancer(_ ports: [Int]) throws -> (GuardedProcess, Int) {
    let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("scale-bench-nginx-\(getpid())-\(ports.count)").path
    try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
    let port = Int(UInt16(bigEndian: address.sin_port))
    close(socket)
    let config = """
        worker_processes 1;
        daemon off;
        master_process off;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log;
        events { worker_connections 4096; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/body;
            proxy_temp_path \(prefix)/proxy;
            upstream mldeploy {
        \(ports.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n"))
                keepalive 64;
            }
            server {
                listen 127.0.0.1:\(port);
                location / {
                    proxy_pass http://mldeploy;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                }
            }
        }
        """
    try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
    let nginx = try GuardedProcess("/usr/sbin/nginx", ["-p", prefix, "-c", prefix + "/nginx.conf"])
    Thread.sleep(forTimeInterval: 0.5)
    return (nginx, port)
}

func report(_ label: String, _ result: WrkResult) {
    print("  " + label.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%8.0f req/s   p50 %6.2f ms   p99 %6.2f ms%@", result.rate, result.p50, result.p99, result.failed ? "   (ERRORS)" : ""))
}

print("Scale-out benchmark: wrk, \(connections) connections, \(seconds) s per figure; a trivial Python service")
let fileNode = try await startNode("file")
let onFiles = try await consume("http://127.0.0.1:\(fileNode.port)")
fileNode.process.stop()
report("one node, filesystem store", onFiles)

let first = try await startNode("postgres")
let onPostgres = try await consume("http://127.0.0.1:\(first.port)")
report("one node, PostgreSQL", onPostgres)
print(String(format: "  PostgreSQL ÷ filesystem store: %.2f×   target ≥ 0.9×: %@", onPostgres.rate / onFiles.rate, onPostgres.rate / onFiles.rate >= 0.9 ? "met" : "MISSED"))

let (oneBalancer, onePort) = try balancer([first.port])
let behindOne = try await consume("http://127.0.0.1:\(onePort)")
oneBalancer.stop()
report("nginx → one PostgreSQL node", behindOne)
let second = try await startNode("postgres")
let (twoBalancer, twoPort) = try balancer([first.port, second.port])
let behindTwo = try await consume("http://127.0.0.1:\(twoPort)")
twoBalancer.stop()
report("nginx → two PostgreSQL nodes", behindTwo)
print(String(format: "  two nodes ÷ one node (behind nginx, 2 cores shared by everything): %.2f×", behindTwo.rate / behindOne.rate))
first.process.stop()
second.process.stop()
