import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MLDeploy
import MLDeployServer
import PostgresServerState
import MLDeployTestSupport
import Synchronization
import Testing

/// `mldeploy serve` processes sharing one PostgreSQL database.
final class ServeNode: Sendable {
    let child: ChildProcess
    let port: Int
    let log: URL
    let pidFile: URL
    var base: URL { URL(string: "http://127.0.0.1:\(self.port)")! }

    /// Starts `mldeploy serve --target DATABASE --port 0`, its output in a log file (a pipe nobody
    /// reads would fill up and stall it), and reads the port it bound from its ready line. The
    /// server picks the port itself: a port found free beforehand can be taken by another test's
    /// server before this one binds it.
    init(database: String, directory: URL, name: String) async throws {
        self.log = directory.appendingPathComponent("\(name).log")
        self.pidFile = directory.appendingPathComponent("\(name).pid")
        let data = directory.appendingPathComponent("\(name)-data").path
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_ADMIN_PASSWORD"] = "Pass123!"
        self.child = try ChildProcess(
            "/bin/sh", ["-c", #"echo $$ > "$1"; shift; exec "$@" > "$LOG" 2>&1"#, "sh", self.pidFile.path,
                        PostgresCLITests.mldeploy, "--target", database, "serve", "--port", "0", "--data-dir", data],
            name: name, environment: environment.merging(["LOG": self.log.path]) { _, new in new }
        )
        let deadline = ContinuousClock.now + .seconds(60)
        var port: Int?
        while port == nil {
            let output = Self.output(of: self.log)
            guard ContinuousClock.now < deadline, !output.contains("error[") else { throw TestFailure("\(name) did not start: \(output)") }
            port = output.firstMatch(of: /listening on http:\/\/127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        self.port = port!
    }

    var output: String { Self.output(of: self.log) }

    private static func output(of log: URL) -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// SIGKILLs the node (no clean shutdown: its heartbeat entry stays until it ages).
    func kill() {
        if let text = try? String(contentsOf: self.pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            Foundation.kill(pid, SIGKILL)
        }
        self.child.stop()
    }
}

/// nginx balancing round robin over nodes, with no stickiness.
final class Balancer: Sendable {
    let child: ChildProcess
    let port: Int
    var base: URL { URL(string: "http://127.0.0.1:\(self.port)")! }

    init(nodes: [ServeNode], directory: URL) async throws {
        self.port = try freePort()
        let prefix = directory.appendingPathComponent("nginx").path
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        let config = nginxConfigurationHead(prefix: prefix) + """
                upstream mldeploy {
            \(nodes.map { "        server 127.0.0.1:\($0.port) max_fails=0;" }.joined(separator: "\n"))
                    keepalive 16;
                }
                server {
                    listen 127.0.0.1:\(self.port);
                    client_max_body_size 0;
                    location / {
                        proxy_pass http://mldeploy;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_read_timeout 300s;
                    }
                }
            }
            """
        let file = directory.appendingPathComponent("nginx.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        self.child = try ChildProcess("/usr/sbin/nginx", ["-p", prefix, "-c", file.path], name: "nginx")
        try await waitUntilListening(port: self.port)
    }
}

/// One HTTP request with URLSession; returns the status and the body as JSON (or a string).
func request(_ base: URL, _ method: String, _ path: String, json: String? = nil, token: String? = nil) async throws -> (status: Int, body: JSONValue, retryAfter: String?) {
    var request = URLRequest(url: URL(string: base.absoluteString + path)!)
    request.httpMethod = method
    if let json {
        request.httpBody = Data(json.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    return (http?.statusCode ?? 0, (try? JSONValue(parsing: Array(data))) ?? .string(String(decoding: data, as: UTF8.self)), http?.value(forHTTPHeaderField: "Retry-After"))
}

@Suite("Scale out: mldeploy serve nodes on one PostgreSQL database behind nginx", .serialized)
struct ScaleOutTests {
    static func login(_ base: URL) async throws -> String {
        let answer = try await request(base, "POST", "/login", json: #"{"username": "admin", "password": "Pass123!"}"#)
        return try #require(answer.body["access_token"]?.stringValue, "\(answer.body)")
    }

    @Test("three nodes act as one: the admin made once, a login on one and a call on another, publish on one and consume on every other at once, a session run on each node in turn, every node in /status", .timeLimit(.minutes(4)))
    func threeNodes() async throws {
        let database = try await PostgresServer.shared().makeDatabase("scaleout")
        let directory = try temporaryDirectory("scaleout")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The nodes start together on an empty database.
        let nodes = try await withThrowingTaskGroup(of: ServeNode.self) { group in
            for index in 1...3 { group.addTask { try await ServeNode(database: database, directory: directory, name: "node\(index)") } }
            return try await group.reduce(into: [ServeNode]()) { $0.append($1) }
        }.sorted { $0.port < $1.port }
        defer { for node in nodes { node.child.stop() } }
        let balancer = try await Balancer(nodes: nodes, directory: directory)
        defer { balancer.child.stop() }
        #expect(nodes.filter { $0.output.contains("created user 'admin'") }.count == 1, "the admin is created once: \(nodes.map(\.output))")

        // A token from one node works on every node (one signing key, one user table).
        let token = try await Self.login(nodes[0].base)
        for node in nodes { #expect(try await request(node.base, "GET", "/services", token: token).status == 200) }

        // Published through one node, consumed through the others at once.
        let publish = #"{"code": "y = x * 3", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
        #expect(try await request(nodes[0].base, "POST", "/services/triple/1", json: publish, token: token).status == 201)
        for node in nodes[1...] {
            let answer = try await request(node.base, "POST", "/api/triple/1", json: #"{"x": 14}"#, token: token)
            #expect(answer.status == 200 && answer.body["outputParameters"]?["y"]?.intValue == 42, "\(answer.body)")
        }
        // Through the balancer (round robin: every node answers some), then deleted on one node.
        for _ in 0..<6 {
            let answer = try await request(balancer.base, "POST", "/api/triple/1", json: #"{"x": 2}"#, token: token)
            #expect(answer.status == 200 && answer.body["outputParameters"]?["y"]?.intValue == 6, "\(answer.body)")
        }
        // A pool size set through one node reaches the others within a heartbeat (5 s).
        #expect(try await request(nodes[0].base, "POST", "/services/triple/1/pool", json: #"{"InitialPoolSize": 1, "MaxPoolSize": 3}"#, token: token).status == 200)
        let poolDeadline = ContinuousClock.now + .seconds(15)
        while try await request(nodes[2].base, "GET", "/services/triple/1/pool", token: token).body.arrayValue?.first?["MaxPoolSize"]?.intValue != 3 {
            guard ContinuousClock.now < poolDeadline else { throw TestFailure("the pool size set on node 1 did not reach node 3") }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try await request(nodes[2].base, "GET", "/services/triple/1/pool", token: token).body.arrayValue?.first?["Status"]?.stringValue == "Success")
        #expect(try await request(nodes[2].base, "DELETE", "/services/triple/1", token: token).status == 200)
        for node in nodes {
            let gone = try await request(node.base, "POST", "/api/triple/1", json: #"{"x": 2}"#, token: token)
            #expect(gone.status == 404, "\(gone.body)")
        }

        // A session made on one node runs on each node in turn: its state is in the database.
        let created = try await request(nodes[0].base, "POST", "/sessions", json: #"{"runtimeType": "Python"}"#, token: token)
        let session = try #require(created.body["sessionId"]?.stringValue, "\(created.body)")
        for (index, code) in ["total = 1", "total = total + 10", "total = total * 2"].enumerated() {
            let answer = try await request(nodes[index].base, "POST", "/sessions/\(session)/execute", json: #"{"code": "\#(code)", "outputParameters": ["total"]}"#, token: token)
            #expect(answer.status == 200 && answer.body["success"]?.boolValue == true, "node \(index + 1): \(answer.body)")
            if index == 2 { #expect(answer.body["outputParameters"]?.arrayValue?.first?["value"]?.intValue == 22, "\(answer.body)") }
        }
        let history = try await request(balancer.base, "GET", "/sessions/\(session)/history", token: token)
        #expect(history.body.arrayValue?.count == 3, "\(history.body)")
        let snapshot = try await request(nodes[1].base, "POST", "/sessions/\(session)/snapshot", json: "{}", token: token)
        let snapshotID = try #require(snapshot.body["snapshotId"]?.stringValue, "\(snapshot.body)")
        #expect(try await request(nodes[2].base, "GET", "/snapshots", token: token).body.arrayValue?.count == 1)
        #expect(try await request(nodes[0].base, "DELETE", "/snapshots/\(snapshotID)", token: token).status == 200)
        #expect(try await request(nodes[2].base, "DELETE", "/sessions/\(session)", token: token).status == 200)

        // A revoked access token is refused by every node.
        let second = try await Self.login(balancer.base)
        #expect(try await request(nodes[1].base, "DELETE", "/login/accessToken", token: second).status == 200)
        for node in nodes {
            let refused = try await request(node.base, "GET", "/services", token: second)
            #expect(refused.status == 401, "node \(node.port) accepted a revoked token")
        }

        // The unmodified Python SDK through the balancer: every request may land on another node
        // (login, publish, consume, batch started on one and polled, listed and read on others).
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = ProcessInfo.processInfo.environment["MLDEPLOY_SDK_PYTHON"] ?? root.appendingPathComponent(".venv-sdk/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no SDK venv at \(python): run scripts/bootstrap.sh")
        let sdk = try await runToCompletion(python, [root.appendingPathComponent("Tests/MLDeployServerTests/Resources/sdk_interop.py").path, balancer.base.absoluteString, "admin", "Pass123!"])
        #expect(sdk.status == 0 && sdk.output.contains("SDK INTEROP OK"), "\(sdk.output)")

        // /status on any node lists every live node and the database.
        let status = try await request(nodes[2].base, "GET", "/status")
        let listed = status.body["components"]?["backends"]?["components"]?.objectValue?.count
        #expect(listed == 3, "\(status.body)")
        #expect(status.body["components"]?["database"]?["details"]?["type"]?.stringValue == "postgresql", "\(status.body)")
        #expect(status.body["components"]?["database"]?["statusCode"]?.stringValue == "pass")
    }
}

@Suite("Scale out: nodes SIGKILLed", .serialized)
struct ScaleOutCrashTests {
    static let publish = #"{"code": "import time\ntime.sleep(delay)\ny = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}, {"name": "delay", "type": "numeric"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#

    @Test("a batch started on one node is watched, listed and read through the others, and finishes after the node that started it is SIGKILLed", .timeLimit(.minutes(4)))
    func batchOutlivesItsNode() async throws {
        let database = try await PostgresServer.shared().makeDatabase("scalebatch")
        let directory = try temporaryDirectory("scalebatch")
        defer { try? FileManager.default.removeItem(at: directory) }
        let nodes = [
            try await ServeNode(database: database, directory: directory, name: "a"), try await ServeNode(database: database, directory: directory, name: "b"),
        ]
        defer { for node in nodes { node.child.stop() } }
        let token = try await ScaleOutTests.login(nodes[0].base)
        #expect(try await request(nodes[0].base, "POST", "/services/slowdouble/1", json: Self.publish, token: token).status == 201)
        let records = (0..<12).map { #"{"x": \#($0), "delay": 0.4}"# }.joined(separator: ", ")
        let started = try await request(nodes[0].base, "POST", "/api/slowdouble/1/batch?parallelCount=4", json: "[\(records)]", token: token)
        let id = try #require(started.body["batchExecutionId"]?.stringValue, "\(started.body)")
        // Node b sees it at once, and runs some of its records.
        #expect(try await request(nodes[1].base, "GET", "/api/slowdouble/1/batch", token: token).body.arrayValue?.contains(.string(id)) == true)
        try await Task.sleep(for: .milliseconds(600))
        nodes[0].kill()
        let deadline = ContinuousClock.now + .seconds(60)
        var status = try await request(nodes[1].base, "GET", "/api/slowdouble/1/batch/\(id)", token: token)
        while status.body["state"]?.stringValue != "Complete" {
            guard ContinuousClock.now < deadline else { throw TestFailure("the batch did not finish after its node died: \(status.body)") }
            try await Task.sleep(for: .milliseconds(200))
            status = try await request(nodes[1].base, "GET", "/api/slowdouble/1/batch/\(id)", token: token)
        }
        let results = try #require(status.body["batchExecutionResults"]?.arrayValue)
        #expect(results.count == 12)
        for (index, result) in results.enumerated() {
            #expect(result["outputParameters"]?["y"]?.intValue == 2 * index, "record \(index): \(result)")
        }
        // The records node b ran are in its metrics, as in-process batches' are.
        let scrape = try await request(nodes[1].base, "GET", "/metrics").body.stringValue ?? ""
        let ran = scrape.split(separator: "\n").first { $0.hasPrefix(#"mldeploy_batch_records_total{service="slowdouble",version="1",state="succeeded"} "#) }
        #expect((ran?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1, "\(scrape)")
        // Cancelled through the surviving node: gone everywhere.
        #expect(try await request(nodes[1].base, "DELETE", "/api/slowdouble/1/batch/\(id)", token: token).status == 200)
        #expect(try await request(nodes[1].base, "GET", "/api/slowdouble/1/batch/\(id)", token: token).status == 404)
    }

    @Test("a node SIGKILLed under four concurrent publishers: every acknowledged version is listed and callable on the others, none partial", .timeLimit(.minutes(4)))
    func publishersAndAKilledNode() async throws {
        let database = try await PostgresServer.shared().makeDatabase("scalepublish")
        let directory = try temporaryDirectory("scalepublish")
        defer { try? FileManager.default.removeItem(at: directory) }
        let nodes = [
            try await ServeNode(database: database, directory: directory, name: "a"), try await ServeNode(database: database, directory: directory, name: "b"),
        ]
        defer { for node in nodes { node.child.stop() } }
        let token = try await ScaleOutTests.login(nodes[1].base)
        // Each publish carries a 256 KiB workspace-free object in its code, so writes take a moment.
        let filler = String(repeating: "#", count: 256 << 10)
        let acknowledged = Collected<String>()
        let publishers = Task {
            await withTaskGroup(of: Void.self) { group in
                for publisher in 0..<4 {
                    group.addTask {
                        for round in 0..<25 {
                            let version = "p\(publisher)r\(round)"
                            let body = #"{"code": "y = x + \#(publisher)\n\#(filler)", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
                            // Publishers use the node that will die, then the other once it has.
                            for node in nodes {
                                if let answer = try? await request(node.base, "POST", "/services/pub/\(version)", json: body, token: token), answer.status == 201 {
                                    acknowledged.items.withLock { $0.append(version) }
                                    break
                                }
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(1500))
        nodes[0].kill()
        await publishers.value
        let versions = acknowledged.items.withLock { $0 }
        #expect(versions.count > 0)
        let listed = try await request(nodes[1].base, "GET", "/services/pub", token: token)
        let listedVersions = Set((listed.body.arrayValue ?? []).compactMap { $0["version"]?.stringValue })
        #expect(Set(versions).isSubset(of: listedVersions), "acknowledged but missing: \(Set(versions).subtracting(listedVersions))")
        // Whatever is listed is whole: it runs.
        for version in listedVersions.sorted() {
            let publisher = Int(version.dropFirst().prefix { $0 != "r" }) ?? 0
            let answer = try await request(nodes[1].base, "POST", "/api/pub/\(version)", json: #"{"x": 1}"#, token: token)
            #expect(answer.status == 200 && answer.body["outputParameters"]?["y"]?.intValue == 1 + publisher, "\(version): \(answer.body)")
        }
    }
}

/// Values gathered by concurrent tasks.
final class Collected<Item: Sendable>: Sendable {
    let items = Mutex<[Item]>([])
}

/// What a load test saw: each call's status, `Retry-After`, duration and phase.
final class LoadRecord: Sendable {
    struct Outcome: Sendable {
        let status: Int
        let retryAfter: String?
        let seconds: Double
        let phase: Int
    }

    /// Set when the load is to stop. The load's requests are never cancelled: cancelling a task
    /// waiting in URLSession's async `data(for:)` can deadlock Foundation on Linux (the cancel
    /// handler waits for the session's queue while that queue waits for the task's status lock),
    /// which once stopped every cooperative thread of a whole test run.
    let stopped = Mutex(false)

    /// 0 before the fault, 1 during it, 2 after.
    let phase = Mutex(0)
    let outcomes = Mutex<[Outcome]>([])
}

@Suite("Scale out: PostgreSQL restarted under load", .serialized)
struct ScaleOutOutageTests {
    @Test("PostgreSQL killed and restarted under load: calls answer 200 or 503 with Retry-After — never hang, 401 or 500 — and the nodes recover by themselves", .timeLimit(.minutes(4)))
    func restartUnderLoad() async throws {
        let postgres = try await PostgresServer.startPrivate()
        defer { postgres.stop() }
        // A short timeout, so calls during the outage fail fast.
        let database = try await postgres.makeDatabase("outage") + "&timeout=3"
        let directory = try temporaryDirectory("scaleout-outage")
        defer { try? FileManager.default.removeItem(at: directory) }
        let nodes = [try await ServeNode(database: database, directory: directory, name: "a"), try await ServeNode(database: database, directory: directory, name: "b")]
        defer { for node in nodes { node.child.stop() } }
        let token = try await ScaleOutTests.login(nodes[0].base)
        let publish = #"{"code": "y = x + 1", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
        #expect(try await request(nodes[0].base, "POST", "/services/inc/1", json: publish, token: token).status == 201)

        let record = LoadRecord()
        let load = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<4 {
                    group.addTask {
                        while !record.stopped.withLock({ $0 }) {
                            let started = ContinuousClock.now
                            let began = record.phase.withLock { $0 }
                            let answer = try await request(nodes[client % 2].base, "POST", "/api/inc/1", json: #"{"x": 1}"#, token: token)
                            let elapsed = ContinuousClock.now - started
                            // A call that began before the kill and ended after it belongs to the outage.
                            let phase = max(began, record.phase.withLock { $0 })
                            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                            record.outcomes.withLock { $0.append(LoadRecord.Outcome(status: answer.status, retryAfter: answer.retryAfter, seconds: seconds, phase: phase)) }
                            if answer.status != 200 { try await Task.sleep(for: .milliseconds(100)) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .seconds(2))
        record.phase.withLock { $0 = 1 }
        postgres.stop()
        try await Task.sleep(for: .seconds(6))
        try await postgres.restart()
        record.phase.withLock { $0 = 2 }
        // Recovered: both nodes answer 200 again within 20 s, with no help.
        let deadline = ContinuousClock.now + .seconds(20)
        for node in nodes {
            while try await request(node.base, "POST", "/api/inc/1", json: #"{"x": 1}"#, token: token).status != 200 {
                guard ContinuousClock.now < deadline else { throw TestFailure("node \(node.port) did not recover after PostgreSQL restarted") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        record.stopped.withLock { $0 = true }
        _ = try? await load.value
        let all = record.outcomes.withLock { $0 }
        #expect(all.filter { $0.phase == 0 }.allSatisfy { $0.status == 200 }, "before the outage every call succeeds")
        let bad = all.filter { $0.status != 200 && !($0.status == 503 && $0.retryAfter != nil) }
        #expect(bad.isEmpty, "answers other than 200 or 503 + Retry-After: \(bad.prefix(5).map { "\($0.status) in phase \($0.phase)" })")
        #expect(all.filter { $0.status == 503 }.count > 0, "the outage was seen (else the test proves nothing)")
        let slowest = all.map(\.seconds).max() ?? 0
        #expect(slowest < 10, "a call hung for \(slowest) s (the database timeout is 3 s)")
        #expect(all.filter { $0.phase == 2 }.contains { $0.status == 200 })
    }
}

@Suite("mldeploy users and serve with the state in PostgreSQL")
struct SharedUsersCLITests {
    @Test("users add/list/set-role/remove with --target postgresql://… (global option first) manage the users every node shares; --database takes only postgresql URIs")
    func users() async throws {
        let database = try await PostgresServer.shared().makeDatabase("sharedusers")
        let directory = try temporaryDirectory("sharedusers")
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        func run(_ arguments: [String]) async throws -> CompletedProcess {
            try await runToCompletion(PostgresCLITests.mldeploy, arguments, environment: environment, directory: directory)
        }
        let added = try await run(["--target", database, "users", "add", "carol", "--role", "Reader"])
        #expect(added.status == 0 && added.output.contains("generated password"), "\(added.output)")
        #expect(try await run(["--target", database, "users", "set-role", "carol", "Contributor"]).status == 0)
        let listed = try await run(["--target", database, "--format", "json", "users", "list"])
        #expect(listed.status == 0 && listed.output.contains("carol") && listed.output.contains("Contributor"), "\(listed.output)")
        // The same users, as a node reads them.
        let store = try PostgresServerState(uri: database)
        #expect(await UserStore(store: store).role(of: "carol") == .contributor)
        await store.close()
        #expect(try await run(["--target", database, "users", "remove", "carol"]).status == 0)
        let missing = try await run(["--target", database, "users", "remove", "carol"])
        #expect(missing.status != 0 && missing.output.contains("not-found"), "\(missing.output)")
        // Nothing is printed as done when the database is not there.
        let nowhere = try await run(["--target", "postgresql://mldeploy@127.0.0.1:\(try freePort())/none", "users", "list"])
        #expect(nowhere.status != 0 && nowhere.output.contains("unreachable"), "\(nowhere.output)")
        let notPostgres = try await run(["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("d").path, "--database", "file:/tmp/x"])
        #expect(notPostgres.status != 0 && notPostgres.output.contains("postgresql://"), "\(notPostgres.output)")
    }
}
