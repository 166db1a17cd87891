import Foundation
import MLDeploy
import MLDeployPlugin
import MLDeployTestSupport
import Testing

/// Set in the child process that runs ``BrokenPluginTests``.
private let brokenPluginsAloneKey = "MLDEPLOY_TEST_BROKEN_PLUGINS_ALONE"

/// Runs ``BrokenPluginTests`` alone in a child process of the test binary: they check that
/// failures come within bounded times, which a cooperative pool shared with every other suite
/// (two threads here) cannot promise.
@Suite("Backend plugins: broken ones, alone", .enabled(if: ProcessInfo.processInfo.environment[brokenPluginsAloneKey] == nil))
struct BrokenPluginsAlone {
    @Test("every broken-plugin case passes in a process of its own", .timeLimit(.minutes(3)))
    func alone() async throws {
        let run = try await runAloneInChildProcess(filter: "BrokenPluginTests/", environmentKey: brokenPluginsAloneKey)
        #expect(run.status == 0 && run.output.contains("Suite \"Backend plugins: broken ones\" passed"), "\(run.output)")
    }
}

/// Deliberately broken plugins: every way a plugin can fail ends in a bounded time with
/// `plugin-failed`, naming the plugin and quoting its standard error; the host never hangs.
@Suite("Backend plugins: broken ones", .enabled(if: ProcessInfo.processInfo.environment[brokenPluginsAloneKey] != nil))
struct BrokenPluginTests {
    /// Runs `body` with a registry that sees only a fresh directory holding `plugins` (name → script).
    static func withPlugins(
        _ plugins: [String: String], handshake: Duration = .seconds(30), call: Duration = .seconds(30), backoff: Duration = .milliseconds(250),
        _ body: (BackendRegistry, URL) async throws -> Void
    ) async throws {
        let directory = try temporaryDirectory("broken-plugins")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, script) in plugins { try PluginFixtures.writePlugin(name, in: directory, script) }
        var settings = PluginFixtures.settings([directory.path], handshake: handshake, call: call)
        settings.restartBackoff = backoff
        let registry = BackendRegistry()
        registry.enablePluginDiscovery(settings)
        try await body(registry, directory)
    }

    /// The error creating a client for `target` fails with, within `limit`.
    static func creationError(_ target: String, _ registry: BackendRegistry, within limit: Duration = .seconds(8)) async throws -> MLDeployError {
        let started = ContinuousClock.now
        do {
            let client = try await DeployClient(target: DeployTarget(target), registry: registry)
            try await client.shutdown()
            throw TestFailure("\(target) worked")
        } catch let error as MLDeployError {
            #expect(ContinuousClock.now - started < limit, "took \(ContinuousClock.now - started)")
            return error
        }
    }

    @Test("a missing plugin is an unknown backend that says where plugins were looked for; a file that is not executable is no plugin")
    func missing() async throws {
        try await Self.withPlugins([:]) { registry, directory in
            try "#!/bin/sh\n".write(to: directory.appendingPathComponent("mldeploy-backend-noexec"), atomically: true, encoding: .utf8)
            for target in ["nosuch:", "noexec:", "nosuch"] {
                let error = try await Self.creationError(target, registry)
                #expect(error.code == .unknownBackend, "\(error)")
                #expect(error.message.contains("mldeploy-backend-"), "\(error)")
            }
        }
    }

    @Test("a plugin that prints text instead of the protocol fails the handshake at once, quoting what it printed")
    func speaksSomethingElse() async throws {
        try await Self.withPlugins(["chatty": "#!/bin/sh\necho 'hello, I am not a plugin'\nsleep 30\n"], handshake: .seconds(20)) { registry, _ in
            let error = try await Self.creationError("chatty:", registry, within: .seconds(5))
            #expect(error.code == .pluginFailed, "\(error)")
            #expect(error.message.contains("chatty") && error.message.contains("hello, I am not a plugin"), "\(error)")
        }
    }

    @Test("a plugin that exits during the handshake fails with its exit status and the tail of its standard error")
    func exitsDuringHandshake() async throws {
        try await Self.withPlugins(["dies": "#!/bin/sh\necho 'fatal: cannot open /etc/dies.conf' >&2\nexit 3\n"]) { registry, _ in
            let error = try await Self.creationError("dies:", registry)
            #expect(error.code == .pluginFailed, "\(error)")
            #expect(error.message.contains("exit status 3") && error.message.contains("fatal: cannot open /etc/dies.conf"), "\(error)")
        }
    }

    @Test("a plugin that never answers the handshake fails after the handshake timeout and is killed")
    func hangsInHandshake() async throws {
        try await Self.withPlugins(["mute": "#!/bin/sh\necho 'starting up' >&2\nexec sleep 60\n"], handshake: .seconds(2)) { registry, _ in
            let error = try await Self.creationError("mute:", registry, within: .seconds(5))
            #expect(error.code == .pluginFailed, "\(error)")
            #expect(error.message.contains("did not answer the handshake within") && error.message.contains("starting up"), "\(error)")
        }
    }

    @Test("a plugin answering with a protocol version the host does not speak is refused, naming both")
    func wrongVersion() async throws {
        try await Self.withPlugins(["future": PluginFixtures.pythonPlugin(behaviour: "pass", protocolVersion: 99)]) { registry, _ in
            let error = try await Self.creationError("future:", registry)
            #expect(error.code == .pluginFailed && error.message.contains("99"), "\(error)")
        }
    }

    @Test("a plugin that dies mid-call fails that call with plugin-failed, and is started again on the next call")
    func diesMidCall() async throws {
        let behaviour = """
            if method == "service/get":
                print("about to crash on purpose", file=sys.stderr, flush=True)
                os._exit(7)
            else:
                send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no " + method}})
            """
        try await Self.withPlugins([:]) { registry, directory in
            let starts = directory.appendingPathComponent("starts").path
            try PluginFixtures.writePlugin("flaky", in: directory, PluginFixtures.pythonPlugin(behaviour: behaviour, atStart: "open(\(Self.pythonString(starts)), 'a').write('x')"))
            try await withDeployClient(target: "flaky:", registry: registry) { client in
                do {
                    _ = try await client.getService("anything")
                    Issue.record("the call returned")
                } catch let error as MLDeployError {
                    #expect(error.code == .pluginFailed, "\(error)")
                    #expect(error.message.contains("exit status 7") && error.message.contains("about to crash on purpose"), "\(error)")
                }
                #expect(try await client.listServices().isEmpty)  // restarted
                #expect(try String(contentsOfFile: starts, encoding: .utf8) == "xx")
                // An operation the plugin does not implement is unsupported, not a failure of the plugin.
                do {
                    try await client.deleteService("a", version: "1")
                } catch let error as MLDeployError {
                    #expect(error.code == .unsupported, "\(error)")
                }
            }
        }
    }

    @Test("a call the plugin never answers fails after the call timeout; the plugin is told to cancel it and keeps serving")
    func hangsInCall() async throws {
        let behaviour = """
            if method == "service/get":
                pass  # never answered
            """
        try await Self.withPlugins(["slow": PluginFixtures.pythonPlugin(behaviour: behaviour)], call: .seconds(2)) { registry, _ in
            try await withDeployClient(target: "slow:", registry: registry) { client in
                let started = ContinuousClock.now
                do {
                    _ = try await client.getService("anything")
                    Issue.record("the call returned")
                } catch let error as MLDeployError {
                    #expect(error.code == .pluginFailed && error.message.contains("did not answer service/get in time"), "\(error)")
                }
                #expect(ContinuousClock.now - started < .seconds(6))
                #expect(try await client.listServices().isEmpty)
            }
        }
    }

    @Test("a plugin that failed to start is retried only after a backoff, during which calls fail at once")
    func backoff() async throws {
        try await Self.withPlugins([:], backoff: .seconds(2)) { registry, directory in
            // Starts fine; once the test removes the flag file every later start fails.
            let flag = directory.appendingPathComponent("healthy").path
            _ = FileManager.default.createFile(atPath: flag, contents: nil)
            try PluginFixtures.writePlugin("fragile", in: directory, PluginFixtures.pythonPlugin(
                behaviour: "pass", atStart: "if not os.path.exists(\(Self.pythonString(flag))): sys.exit('unhealthy')"
            ))
            try await withDeployClient(target: "fragile:", registry: registry) { client in
                let backend = try #require(client.backend as? PluginBackend)
                try FileManager.default.removeItem(atPath: flag)
                let pid = try #require(backend.processID)
                kill(pid, SIGKILL)
                #expect(try await Processes.eventually { Processes.isGone(pid) })
                await #expect(throws: MLDeployError.self) { _ = try await client.listServices() }  // the restart fails
                let started = ContinuousClock.now
                do {
                    _ = try await client.listServices()
                } catch let error as MLDeployError {
                    #expect(error.code == .pluginFailed && error.message.contains("tried again in"), "\(error)")
                }
                // "At once": the message shows no start was tried; the bound only shows the call did
                // not wait out the 2 s backoff (a tighter one measured the machine's load in CI).
                #expect(ContinuousClock.now - started < .seconds(1))
                _ = FileManager.default.createFile(atPath: flag, contents: nil)
                try await Task.sleep(for: .milliseconds(2100))
                #expect(try await client.listServices().isEmpty)
            }
        }
    }

    @Test("shutdown ends the plugin's whole process group, even a plugin that ignores end of input and SIGTERM")
    func noOrphans() async throws {
        try await Self.withPlugins([:]) { registry, directory in
            let pids = directory.appendingPathComponent("pids").path
            let atStart = """
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                child = subprocess.Popen(["sleep", "300"])
                open(\(Self.pythonString(pids)), "w").write("%d %d" % (os.getpid(), child.pid))
                """
            // On end of input it keeps running instead of exiting.
            let script = PluginFixtures.pythonPlugin(behaviour: "pass", atStart: atStart).replacingOccurrences(of: "        sys.exit(0)", with: "        time.sleep(300)")
            try PluginFixtures.writePlugin("stubborn", in: directory, script)
            let client = try await DeployClient(target: "stubborn:", registry: registry)
            let numbers = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { Int32($0) }
            try #require(numbers.count == 2)
            #expect(!Processes.isGone(numbers[0]) && !Processes.isGone(numbers[1]))
            let started = ContinuousClock.now
            try await client.shutdown()
            #expect(ContinuousClock.now - started < .seconds(6))
            #expect(try await Processes.eventually { numbers.allSatisfy(Processes.isGone) }, "left behind: \(numbers.filter { !Processes.isGone($0) })")
        }
    }

    static func pythonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
