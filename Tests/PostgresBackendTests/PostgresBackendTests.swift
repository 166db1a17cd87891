import Foundation
import Logging
import MLDeploy
import MLDeployConformance
import MLDeployTestSupport
import PostgresBackend
import ServiceRuntime
import Testing

/// A backend on a fresh database of the test cluster (no Python unless asked).
func makeBackend(_ label: String, python: Bool = false) async throws -> (PostgresBackend, String) {
    let uri = try await PostgresServer.shared().makeDatabase(label)
    let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
    return (PostgresBackend(settings: settings, python: python ? PythonRuntime.Configuration() : nil), uri)
}

@Suite("PostgresBackend conformance (a real PostgreSQL)")
struct PostgresBackendConformanceTests {
    @Test("passes with Swift handlers", arguments: BackendConformance.checks)
    func swift(_ check: ConformanceCheck) async throws {
        let uri = try await PostgresServer.shared().makeDatabase("conformance")
        let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        try await check.run(ConformanceConfiguration(credentials: .password(username: "alice", password: "x")) {
            PostgresBackend(settings: settings, python: nil)
        })
    }

    /// One check at a time, each with a patient queue (see MemoryBackendConformanceTests).
    @Test("passes with Python services", .serialized, arguments: BackendConformance.checks)
    func python(_ check: ConformanceCheck) async throws {
        let uri = try await PostgresServer.shared().makeDatabase("conformancepy")
        let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        let python = { var python = PythonRuntime.Configuration(); python.maximumQueueWait = .seconds(180); return python }()
        try await check.run(ConformanceConfiguration(flavor: .python) { PostgresBackend(settings: settings, python: python) })
    }
}

@Suite("PostgresBackend")
struct PostgresBackendTests {
    @Test("URIs: libpq forms, sslmode, Unix sockets, passwords from options, files and the environment; bad ones are typed errors")
    func settings() throws {
        let full = try PostgresSettings(uri: "//ann:s%40cret@db.example.com:6543/models?sslmode=require", environment: [:])
        #expect(full == PostgresSettings(host: "db.example.com", port: 6543, username: "ann", password: "s@cret", database: "models", tls: .require))
        #expect(full.description == "postgresql://ann@db.example.com:6543/models", "no password in descriptions")
        let socket = try PostgresSettings(uri: "///models?host=/var/run/postgresql&user=ann", environment: [:])
        #expect(socket.isUnixSocket && socket.host == "/var/run/postgresql" && socket.username == "ann" && socket.tls == .prefer)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-password-\(UUID().uuidString.prefix(6))")
        try "from-file\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try PostgresSettings(uri: "//ann@h/db", options: ["password_file": file.path], environment: [:]).password == "from-file")
        #expect(try PostgresSettings(uri: "//ann@h/db", environment: ["MLDEPLOY_DATABASE_PASSWORD_FILE": file.path]).password == "from-file")
        #expect(try PostgresSettings(uri: "//ann@h/db", environment: ["PGPASSWORD": "env"]).password == "env")
        #expect(try PostgresSettings(uri: "//ann@h/db?timeout=2.5", environment: [:]).timeout == .milliseconds(2500))
        for (bad, named) in [("//ann@h", "no database"), ("//h/db", "no user"), ("//ann@h/db?sslmode=sometimes", "sslmode"), ("//ann@h:0/db", "port"), ("//ann@h/db?timeout=soon", "timeout")] {
            #expect { try PostgresSettings(uri: bad, environment: [:]) } throws: { error in
                (error as? MLDeployError)?.code == .invalidTarget && "\(error)".contains(named)
            }
        }
    }

    @Test("two backends on one database see each other's writes at once; a name and version published by both at once: exactly one wins")
    func sharedDatabase() async throws {
        let (first, uri) = try await makeBackend("shared")
        let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        let second = PostgresBackend(settings: settings, python: nil)
        let context = BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test"))
        try await first.initialize(context: context)
        try await second.initialize(context: context)
        defer { Task { try? await first.shutdown(); try? await second.shutdown() } }
        let handler = ServiceHandler("shared_double_\(UUID().uuidString.prefix(8))") { call in call.outputs["y"] = .integer(try call.integer("x") * 2) }
        func definition(_ version: String) -> ServiceDefinition {
            var definition = ServiceDefinition(name: "twice", version: version, handler: handler)
            definition.inputs = [.init(name: "x", type: .integer)]
            definition.outputs = [.init(name: "y", type: .integer)]
            return definition
        }
        _ = try await first.deployService(definition("1"))
        #expect(try await second.getService("twice", version: nil).version == "1")
        let info = try await second.getService("twice", version: "1")
        #expect(try await second.consume(ConsumeRequest(service: info, inputs: ["x": 21])).output("y") == 42)
        // Concurrent publishers of one version: one success, the rest conflicts, one row.
        let outcomes = await withTaskGroup(of: MLDeployError.Code?.self) { group in
            for backend in [first, second, first, second] {
                group.addTask {
                    do {
                        _ = try await backend.deployService(definition("2"))
                        return nil
                    } catch let error as MLDeployError {
                        return error.code
                    } catch {
                        return .backendFailure
                    }
                }
            }
            return await group.reduce(into: [MLDeployError.Code?]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 1 && outcomes.filter { $0 == .conflict }.count == 3, "\(outcomes)")
        #expect(try await first.listServices(.named("twice")).map(\.version) == ["1", "2"])
        try await second.deleteService("twice", version: "1")
        await #expect { try await first.getService("twice", version: "1") } throws: { ($0 as? MLDeployError)?.code == .notFound }
    }

    @Test("large objects are stored in parts, once per content, and collected when nothing uses them")
    func blobs() async throws {
        let (backend, uri) = try await makeBackend("blobs")
        try await backend.initialize(context: BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test")))
        defer { Task { try? await backend.shutdown() } }
        let big = Data((0..<(5 * PostgresBackend.partSize / 2)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let handler = ServiceHandler("blob_size_\(UUID().uuidString.prefix(8))") { call in call.outputs["n"] = .integer(1) }
        for version in ["1", "2"] {
            var definition = ServiceDefinition(name: "heavy", version: version, handler: handler)
            definition.objects = ["weights": .pickled(big)]
            definition.outputs = [.init(name: "n", type: .integer)]
            _ = try await backend.deployService(definition)
        }
        let server = try await PostgresServer.shared()
        let database = String(uri.split(separator: "/").last!.split(separator: "?").first!)
        #expect(try await server.sql("SELECT count(*), sum(size) FROM mldeploy_blobs", database: database) == "1|\(big.count)", "one blob for two versions")
        #expect(try await server.sql("SELECT count(*), max(length(bytes)) FROM mldeploy_blob_parts", database: database) == "3|\(PostgresBackend.partSize)")
        try await backend.deleteService("heavy", version: "1")
        #expect(try await server.sql("SELECT count(*) FROM mldeploy_blobs", database: database) == "1", "still used by version 2")
        try await backend.deleteService("heavy", version: "2")
        #expect(try await server.sql("SELECT count(*) FROM mldeploy_blobs", database: database) == "0")
        #expect(try await server.sql("SELECT count(*) FROM mldeploy_blob_parts", database: database) == "0")
    }

    @Test("nodes starting at once migrate the schema once; a newer schema is refused; an unreachable database is a clear error")
    func schema() async throws {
        let server = try await PostgresServer.shared()
        let uri = try await server.makeDatabase("schema")
        let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        let backends = (0..<4).map { _ in PostgresBackend(settings: settings, python: nil) }
        let context = BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for backend in backends { group.addTask { try await backend.initialize(context: context) } }
            try await group.waitForAll()
        }
        let database = String(uri.split(separator: "/").last!.split(separator: "?").first!)
        #expect(try await server.sql("SELECT count(*) FROM mldeploy_schema", database: database) == "2", "each step applied once")
        for backend in backends { try await backend.shutdown() }

        try await server.sql("INSERT INTO mldeploy_schema (version) VALUES (99)", database: database)
        let newer = PostgresBackend(settings: settings, python: nil)
        await #expect { try await newer.initialize(context: context) } throws: { error in
            (error as? MLDeployError)?.code == .incompatibleStore && "\(error)".contains("99")
        }
        try? await newer.shutdown()

        let nowhere = PostgresBackend(settings: PostgresSettings(host: "127.0.0.1", port: try freePort(), username: "mldeploy", database: "x", tls: .disable), python: nil)
        let clock = ContinuousClock(), started = clock.now
        await #expect { try await nowhere.initialize(context: context) } throws: { error in
            (error as? MLDeployError)?.code == .unreachable && "\(error)".contains("127.0.0.1") && !"\(error)".contains("password")
        }
        #expect(clock.now - started < .seconds(5), "fails at once, does not wait for the pool's retries")
        try? await nowhere.shutdown()
    }
}

@Suite("mldeploy with a PostgreSQL target")
struct PostgresCLITests {
    /// The built `mldeploy`, next to the test bundle.
    static var mldeploy: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        return directory.appendingPathComponent("mldeploy").path
    }

    @Test("global --target postgresql://… before the command: deploy, list, consume; backends lists postgres; a bad URI is a typed error")
    func cli() async throws {
        let uri = try await PostgresServer.shared().makeDatabase("cli")
        let directory = try temporaryDirectory("pg-cli")
        defer { try? FileManager.default.removeItem(at: directory) }
        try "y = x * 3\n".write(to: directory.appendingPathComponent("triple.py"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_RUNTIME_ISOLATION"] = "sandbox"
        func run(_ arguments: [String]) async throws -> CompletedProcess {
            try await runToCompletion(Self.mldeploy, arguments, environment: environment, directory: directory)
        }
        let deployed = try await run(["--target", uri, "deploy", "triple", "--version", "1", "--code", "triple.py", "--input", "x=int", "--output", "y=int"])
        #expect(deployed.status == 0, "\(deployed.output)")
        let listed = try await run(["--target", uri, "--format", "json", "list"])
        #expect(listed.status == 0 && listed.output.contains("\"triple\""), "\(listed.output)")
        let consumed = try await run(["--target", uri, "consume", "triple", "--version", "1", "x=14"])
        #expect(consumed.status == 0 && consumed.output.contains("42"), "\(consumed.output)")
        let backends = try await run(["backends"])
        #expect(backends.output.contains("postgres") && backends.output.contains("postgresql"), "\(backends.output)")
        let bad = try await run(["--target", "postgresql://nobody@127.0.0.1:1/nothing?sslmode=sometimes", "list"])
        #expect(bad.status != 0 && bad.output.contains("invalid-target") && bad.output.contains("sslmode"), "\(bad.output)")
    }
}

@Suite("PostgresBackend under SIGKILL")
struct PostgresCrashTests {
    @Test("CLI publishes SIGKILLed at random points leave nothing partial: every listed version is whole and callable", .timeLimit(.minutes(5)))
    func killedPublishes() async throws {
        let server = try await PostgresServer.shared()
        let uri = try await server.makeDatabase("crash")
        let directory = try temporaryDirectory("pg-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Kept small: the suites share one process, and one of them measures its peak memory.
        let rounds = 10
        // A distinct 1.5 MiB object per round (two parts each), so every publish writes a new blob.
        let made = try await runToCompletion("/usr/bin/env", [
            "python3", "-c", "import pickle, os\nfor i in range(\(rounds)):\n    open('o%d.pkl' % i, 'wb').write(pickle.dumps(os.urandom(3 * 512 * 1024)))",
        ], directory: directory)
        try #require(made.status == 0, "\(made.output)")
        try "y = len(blob)\n".write(to: directory.appendingPathComponent("size.py"), atomically: true, encoding: .utf8)
        // The schema exists first: on a busy machine every publish may be killed before it made it.
        let backend = PostgresBackend(settings: try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count))))
        try await backend.initialize(context: BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test")))
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLDEPLOY_") }
        environment["MLDEPLOY_TARGET"] = uri
        var (finished, killed) = (0, 0)
        for round in 0..<rounds {
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            let pid = try Spawn.start(
                PostgresCLITests.mldeploy, ["deploy", "sized", "--version", "v\(round)", "--code", "size.py", "--object", "blob=o\(round).pkl", "--output", "y=int"],
                environment: environment, directory: directory.path, input: null, output: null, error: null
            )
            close(null)
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...600)))
            var raw: Int32 = 0
            let exited = waitpid(pid, &raw, WNOHANG) == pid
            if !exited {
                kill(pid, SIGKILL)
                killed += 1
            }
            let status = exited ? ((raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)) : try await offThePool { Spawn.wait(pid) }
            if status == 0 { finished += 1 }
        }
        #expect(killed > 0, "no publish was killed mid-way (\(finished) of \(rounds) finished)")
        // Whatever is visible is whole: parts complete, sizes and hashes right, and each version runs.
        let database = String(uri.split(separator: "/").last!.split(separator: "?").first!)
        let damaged = try await server.sql(
            """
            SELECT count(*) FROM mldeploy_blobs b
            WHERE b.parts <> (SELECT count(*) FROM mldeploy_blob_parts p WHERE p.hash = b.hash)
               OR b.size <> (SELECT coalesce(sum(length(p.bytes)), 0) FROM mldeploy_blob_parts p WHERE p.hash = b.hash)
               OR b.hash <> encode(sha256((SELECT string_agg(p.bytes, ''::bytea ORDER BY p.part) FROM mldeploy_blob_parts p WHERE p.hash = b.hash)), 'hex')
            """,
            database: database
        )
        #expect(damaged == "0")
        #expect(try await server.sql("SELECT count(*) FROM mldeploy_blobs b WHERE NOT EXISTS (SELECT 1 FROM mldeploy_blob_refs r WHERE r.hash = b.hash)", database: database) == "0", "no orphaned blobs")
        let versions = try await backend.listServices(.named("sized"))
        #expect(versions.count >= finished, "every publish that finished is there (\(finished) finished, \(versions.count) listed)")
        for info in versions {
            let response = try await backend.consume(ConsumeRequest(service: info, inputs: [:]))
            #expect(response.success && response.output("y") == .integer(3 * 512 * 1024), "\(info.version): \(response.errorMessage ?? "")")
        }
        try await backend.shutdown()
    }
}

@Suite("PostgresBackend when PostgreSQL goes away")
struct PostgresOutageTests {
    @Test("PostgreSQL killed and restarted: calls during the outage fail within the timeout as unreachable; afterwards the backend reconnects by itself", .timeLimit(.minutes(3)))
    func restart() async throws {
        let server = try await PostgresServer.startPrivate()
        defer { server.stop() }
        let uri = try await server.makeDatabase("outage")
        var settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        settings.timeout = .seconds(3)
        let backend = PostgresBackend(settings: settings, python: nil)
        try await backend.initialize(context: BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test")))
        // Handler names are process-wide (HandlerRegistry.shared): a name no other test uses.
        let handler = ServiceHandler("outage_echo_\(UUID().uuidString.prefix(8))") { call in call.outputs["y"] = call.inputs["x"] ?? .null }
        var definition = ServiceDefinition(name: "echo", version: "1", handler: handler)
        definition.inputs = [.init(name: "x", type: .integer)]
        definition.outputs = [.init(name: "y", type: .integer)]
        let info = try await backend.deployService(definition)
        #expect(try await backend.consume(ConsumeRequest(service: info, inputs: ["x": 7])).output("y") == 7)

        server.stop()
        let clock = ContinuousClock(), started = clock.now
        // A listing always reads the database (a named version may still come from the cache
        // until the change feed notices its connection is gone).
        await #expect { try await backend.listServices(.named("echo")) } throws: { error in
            (error as? MLDeployError)?.code == .unreachable
        }
        #expect(clock.now - started < .seconds(10), "failed after \(clock.now - started), not within the 3 s timeout")

        try await server.restart()
        // The pool reconnects on its own; the first calls after the restart may still see the dead
        // connections go, so allow a few attempts.
        var answered: MLValue?
        var lastError: (any Error)?
        for _ in 0..<40 where answered == nil {
            do {
                answered = try await backend.consume(ConsumeRequest(service: info, inputs: ["x": 8])).output("y")
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        #expect(answered == 8, "last error: \(String(describing: lastError))")
        try await backend.shutdown()
    }
}

@Suite("PostgresBackend manifest cache")
struct PostgresCacheTests {
    @Test("a called version's manifest is served from memory until a change notification drops it; a redeploy elsewhere is seen at once")
    func changeFeed() async throws {
        let server = try await PostgresServer.shared()
        let uri = try await server.makeDatabase("feed")
        let database = String(uri.split(separator: "/").last!.split(separator: "?").first!)
        let settings = try PostgresSettings(uri: String(uri.dropFirst("postgresql:".count)))
        let (writer, reader) = (PostgresBackend(settings: settings, python: nil), PostgresBackend(settings: settings, python: nil))
        let context = BackendContext(configuration: BackendConfiguration(backendName: "postgres"), logger: .init(label: "test"))
        try await writer.initialize(context: context)
        try await reader.initialize(context: context)
        // The feed subscribes in the background (slowly on a busy machine); caching starts then.
        for _ in 0..<600 where !reader.followsChanges { try await Task.sleep(for: .milliseconds(50)) }
        let suffix = UUID().uuidString.prefix(8)
        let (twice, thrice) = (
            ServiceHandler("feed_twice_\(suffix)") { call in call.outputs["y"] = .integer(try call.integer("x") * 2) },
            ServiceHandler("feed_thrice_\(suffix)") { call in call.outputs["y"] = .integer(try call.integer("x") * 3) }
        )
        func definition(_ handler: ServiceHandler) -> ServiceDefinition {
            var definition = ServiceDefinition(name: "feed", version: "1", handler: handler)
            definition.inputs = [.init(name: "x", type: .integer)]
            definition.outputs = [.init(name: "y", type: .integer)]
            return definition
        }
        let info = try await writer.deployService(definition(twice))
        func call(_ backend: PostgresBackend) async throws -> MLValue? {
            try await backend.consume(ConsumeRequest(service: info, inputs: ["x": 5])).output("y")
        }
        /// Polls `reader` until `expected` (notifications arrive within milliseconds).
        func eventually(_ expected: MLValue?) async throws -> MLValue?? {
            var last: MLValue??
            for _ in 0..<50 {
                last = try? await call(reader)
                if last == .some(expected) { return last }
                try await Task.sleep(for: .milliseconds(40))
            }
            return last
        }
        #expect(try await eventually(10) == .some(10), "the reader serves the version")
        // Redeployed through the other backend: the reader follows at once.
        _ = try await writer.redeployService(definition(thrice))
        #expect(try await eventually(15) == .some(15))
        // The reader's copy is in memory: the row removed behind its back (no notification) does
        // not reach it…
        try await server.sql("DELETE FROM mldeploy_versions WHERE name = 'feed'", database: database)
        #expect(try await call(reader) == 15)
        // …until a notification names it.
        try await server.sql("SELECT pg_notify('mldeploy_changes', 'feed/1')", database: database)
        var refused = false
        for _ in 0..<50 where !refused {
            do { _ = try await call(reader) } catch let error as MLDeployError where error.code == .notFound { refused = true }
            if !refused { try await Task.sleep(for: .milliseconds(40)) }
        }
        #expect(refused, "the notification dropped the cached manifest")

        // The full listing is kept the same way: a row added behind the reader's back is not
        // listed until a notification (any version's) arrives; a deploy elsewhere is listed at once.
        _ = try await writer.deployService(definition(twice))
        var listed: [String] = []
        for _ in 0..<50 where listed != ["feed"] {
            listed = try await reader.listServices(.all).map(\.name)
            if listed != ["feed"] { try await Task.sleep(for: .milliseconds(40)) }
        }
        #expect(listed == ["feed"])
        // The deploy's own notification may still be on its way (a loaded machine delays it); once
        // it has arrived and the listing is cached again, nothing else will drop it.
        try await Task.sleep(for: .seconds(1))
        _ = try await reader.listServices(.all)
        try await server.sql("INSERT INTO mldeploy_versions (name, version, sequence, revision, manifest) SELECT 'ghost', version, sequence, revision, replace(manifest, '\"feed\"', '\"ghost\"') FROM mldeploy_versions WHERE name = 'feed'", database: database)
        #expect(try await reader.listServices(.all).map(\.name) == ["feed"], "served from memory")
        try await server.sql("SELECT pg_notify('mldeploy_changes', 'ghost/1')", database: database)
        for _ in 0..<50 where listed.count < 2 {
            listed = try await reader.listServices(.all).map(\.name)
            if listed.count < 2 { try await Task.sleep(for: .milliseconds(40)) }
        }
        #expect(listed == ["feed", "ghost"], "the notification dropped the cached listing")
        try await writer.shutdown()
        try await reader.shutdown()
    }
}
