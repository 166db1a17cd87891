import Foundation
import MLDeploy
@testable import ServiceRuntime
import MLDeployTestSupport
import Testing

/// Published code runs confined (bubblewrap): each test is something a hostile service did to an
/// unconfined server, and fails when it works again.
@Suite("Python workers confined in the sandbox")
struct PythonSandboxTests {
    /// Runs `code` once as a service whose single output `result` is text.
    func probe(_ code: String, inputs: [String: MLValue] = [:], configure: (inout PythonRuntime.Configuration) -> Void = { _ in }) async throws -> String {
        var result = ""
        try await withPythonRuntime(configure) { runtime throws in
            let service = pythonService(
                code: code, inputs: inputs.keys.sorted().map { ParameterDefinition(name: $0, type: .integer) },
                outputs: [.init(name: "result", type: .character)]
            )
            let response = try await runtime.run(service, inputs: inputs)
            #expect(response.success, "\(response.errorMessage ?? "")")
            result = response.output("result")?.stringValue ?? ""
        }
        return result
    }

    static let nobody: UInt32 = getpwnam("nobody")!.pointee.pw_uid

    @Test("runs as the worker user with no capabilities and no way to gain privileges")
    func identity() async throws {
        let result = try await self.probe("""
            import os
            try:
                os.setuid(0)
                became = 'root'
            except PermissionError:
                became = 'refused'
            status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines() if ':\\t' in line)
            result = f"{os.getuid()} {os.geteuid()} {became} {status['NoNewPrivs'].strip()} {status['CapEff'].strip()}"
            """)
        #expect(result == "\(Self.nobody) \(Self.nobody) refused 1 0000000000000000")
        #expect(getuid() != Self.nobody)
    }

    @Test("cannot read the server's files: data directory, keys, sources, /etc/shadow, any process's environment")
    func files() async throws {
        // A data directory beside the build, not under /tmp (which the worker has its own of anyway).
        let data = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/sandbox-data-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        try Data("secret".utf8).write(to: data.appendingPathComponent("signing.key"))
        try Data("{}".utf8).write(to: data.appendingPathComponent("users.json"))
        chmod(data.path, 0o755)
        chmod(data.appendingPathComponent("users.json").path, 0o644)  // even a world-readable file is not there
        let paths = [data.appendingPathComponent("signing.key").path, data.appendingPathComponent("users.json").path, "/etc/shadow", "/proc/\(getpid())/environ", "/proc/1/environ", FileManager.default.currentDirectoryPath + "/Package.swift"]
        // A JSON array of strings is a Python list literal.
        let list = String(decoding: try JSONSerialization.data(withJSONObject: paths, options: .withoutEscapingSlashes), as: UTF8.self)
        let result = try await self.probe("""
            import os
            seen = []
            for path in \(list):
                try:
                    if os.path.isdir(path):
                        os.listdir(path)
                    else:
                        open(path, 'rb').read()
                    seen.append('READ ' + path)
                except OSError as error:
                    seen.append(type(error).__name__)
            result = ' '.join(seen)
            """)
        #expect(!result.contains("READ"), "\(result)")
        #expect(result.split(separator: " ").count == paths.count)
    }

    @Test("gets a clean environment: what Python needs and the configured variables, none of the server's")
    func environment() async throws {
        let result = try await self.probe("import os\nresult = ' '.join(sorted(os.environ))", configure: { $0.environment["SERVICE_SETTING"] = "1" })
        // bubblewrap sets PWD (the working directory) itself.
        let expected = PythonSandbox.environment(uidHome: PythonSandbox.workdir).map(\.0) + ["SERVICE_SETTING", "PWD"]
        #expect(result.split(separator: " ").map(String.init) == expected.sorted())
        #expect(ProcessInfo.processInfo.environment.keys.contains { !expected.contains($0) }, "the host has variables the worker must not see")
    }

    @Test("sees and signals only its own processes")
    func processes() async throws {
        let result = try await self.probe("""
            import os
            try:
                os.kill(server, 0)
                reach = 'reached'
            except ProcessLookupError:
                reach = 'absent'
            pids = [name for name in os.listdir('/proc') if name.isdigit()]
            result = f"{reach} {len(pids)} {os.getppid() != server}"
            """, inputs: ["server": .integer(Int(getpid()))])
        let fields = result.split(separator: " ")
        #expect(fields.first == "absent" && fields.last == "True", "\(result)")
        #expect(Int(fields[1]).map { $0 <= 4 } == true, "only the worker's own processes: \(result)")
    }

    @Test("writes only its own working directory and /tmp, each bounded in size")
    func writes() async throws {
        let result = try await self.probe("""
            import os
            def attempt(path, size):
                try:
                    with open(path, 'wb') as f:
                        f.write(b'x' * size)
                    return 'ok'
                except OSError as error:
                    return type(error).__name__ + ':' + str(error.errno)
            result = ' '.join([attempt('/usr/lib/planted', 1), attempt('/mldeploy/planted', 1), attempt(os.getcwd() + '/small', 1024), attempt('/tmp/small', 1024), attempt('big', 16 << 20), attempt('/tmp/big', 16 << 20)])
            """, configure: { $0.scratchSize = 8 << 20 })
        let outcomes = result.split(separator: " ").map(String.init)
        #expect(outcomes.count == 6, "\(result)")
        #expect(outcomes.prefix(2).allSatisfy { $0.hasPrefix("OSError:30") || $0.hasPrefix("PermissionError") || $0.hasPrefix("FileNotFoundError") }, "\(result)")
        #expect(outcomes[2] == "ok" && outcomes[3] == "ok", "\(result)")
        #expect(outcomes.suffix(2).allSatisfy { $0 == "OSError:\(ENOSPC)" || $0 == "OSError:\(EFBIG)" }, "\(result)")
    }

    /// The host processes whose command line contains `marker`.
    static func hostProcesses(containing marker: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = pid_t(name), let cmdline = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            return String(decoding: cmdline, as: UTF8.self).contains(marker) ? pid : nil
        }
    }

    /// Waits up to `seconds` for no host process to contain `marker`.
    static func gone(_ marker: String, within seconds: Int = 10) async throws -> Bool {
        for _ in 0..<(seconds * 10) {
            if Self.hostProcesses(containing: marker).isEmpty { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test("every process a call started dies with its worker: when the call times out and when the version is evicted")
    func children() async throws {
        try await withPythonRuntime({ $0.callTimeout = .seconds(3) }) { runtime throws in
            let marker = "1000.\(UInt32.random(in: 1000...999_999))"
            let service = pythonService(
                code: """
                    import subprocess, time
                    subprocess.Popen(['sleep', '\(marker)' + str(x)], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    if x == 2:
                        time.sleep(60)
                    y = x
                    """,
                inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)]
            )
            // A detached child outlives its call while the worker lives, and dies with the version.
            #expect(try await runtime.run(service, inputs: ["x": 1]).output("y") == 1)
            #expect(!Self.hostProcesses(containing: marker + "1").isEmpty)
            await runtime.evict(service.info.reference)
            #expect(try await Self.gone(marker + "1"), "the child of an evicted version's worker is still running")
            // A call over its timeout takes its children with it.
            await #expect { try await runtime.run(service, inputs: ["x": 2]) } throws: { ($0 as? MLDeployError)?.code == .timeout }
            #expect(try await Self.gone(marker + "2"), "the child of a timed-out call is still running")
        }
    }

    @Test("network none leaves only the worker's own loopback; host reaches the host's", arguments: [PythonNetwork.none, .host])
    func network(_ network: PythonNetwork) async throws {
        // A listening socket on the host's loopback: connecting needs no accept (the backlog answers).
        let (listener, port) = try loopbackSocket(listening: 8)
        defer { close(listener) }
        let result = try await self.probe("""
            import socket
            try:
                socket.create_connection(('127.0.0.1', port), timeout=5).close()
                result = 'connected'
            except OSError as error:
                result = type(error).__name__
            """, inputs: ["port": .integer(port)], configure: { $0.network = network })
        #expect(result == (network == .none ? "ConnectionRefusedError" : "connected"), "\(result)")
    }

    @Test(
        "memory and processes are bounded for the worker's whole tree (its cgroup)",
        .enabled(if: PythonSandbox.cgroupParents() != nil, "this host does not let the server make cgroups")
    )
    func treeLimits() async throws {
        // Three children of 150 MiB each fit a 300 MiB per-process limit, not a 300 MiB tree.
        let memory = try await self.probe("""
            import os
            children = []
            for _ in range(3):
                pid = os.fork()
                if pid == 0:
                    hog = b'\\x01' * (150 << 20)
                    import time
                    time.sleep(1)
                    os._exit(0)
                children.append(pid)
            killed = sum(1 for pid in children if os.WIFSIGNALED(os.waitpid(pid, 0)[1]))
            result = str(killed)
            """, configure: { $0.memoryLimit = 300 << 20 })
        #expect(Int(memory).map { $0 >= 1 } == true, "children over the tree's memory were not stopped: \(memory)")
        let forks = try await self.probe("""
            import os, signal
            started = []
            for _ in range(40):
                try:
                    pid = os.fork()
                except BlockingIOError:
                    break
                if pid == 0:
                    import time
                    time.sleep(30)
                    os._exit(0)
                started.append(pid)
            for pid in started:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            result = str(len(started))
            """, configure: { $0.maximumProcesses = 16 })
        #expect(Int(forks).map { $0 > 0 && $0 < 16 } == true, "a fork loop was not bounded: \(forks)")
    }

    @Test("session runs are confined as service calls are")
    func sessions() async throws {
        try await withPythonRuntime { runtime throws in
            let execution = try await runtime.execute(code: "import os\nuid = os.getuid()\nsecret = os.path.exists('/etc/shadow')", workspace: [:], outputs: ["uid", "secret"])
            #expect(execution.succeeded, "\(execution.errorMessage)")
            #expect(execution.outputs.first { $0.name == "uid" }?.value.intValue == Int(Self.nobody))
            #expect(execution.outputs.first { $0.name == "secret" }?.value.boolValue == false)
        }
    }

    @Test("isolation none runs workers as this process's user, and says so")
    func unconfined() async throws {
        let result = try await self.probe("import os\nresult = str(os.getuid())", configure: { $0.isolation = .none })
        #expect(result == String(getuid()))
        try await withPythonRuntime({ $0.isolation = .none }) { runtime throws in
            let confinement = try await runtime.checkConfinement()
            #expect(confinement.isolation == .none && confinement.treeLimits == .none && "\(confinement)".contains("none"))
        }
        try await withPythonRuntime { runtime throws in
            let confinement = try await runtime.checkConfinement()
            #expect(confinement.isolation == .sandbox && confinement.user == "nobody" && confinement.network == .host)
        }
    }

    @Test("a host that cannot confine is a clear error naming the way out, and runs nothing")
    func unavailable() async throws {
        try await withPythonRuntime({ $0.sandboxUser = "no-such-mldeploy-user" }) { runtime throws in
            await #expect { try await runtime.checkConfinement() } throws: { error in
                (error as? MLDeployError)?.code == .pythonRuntimeUnavailable && "\(error)".contains("no-such-mldeploy-user") && "\(error)".contains("runtime.isolation: none")
            }
            let service = pythonService(code: "y = 1", outputs: [.init(name: "y", type: .integer)])
            await #expect { try await runtime.run(service, inputs: [:]) } throws: { ($0 as? MLDeployError)?.code == .pythonRuntimeUnavailable }
            #expect(await runtime.status().workers == 0)
        }
    }
}
