import Foundation
import MLDeploy
import MLDeployPlugin
import MLDeployTestSupport
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Where the test binary's sibling executables are, and plugins written for a test.
enum PluginFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The build directory holding `mldeploy` and `mldeploy-backend-wrapped`.
    static var buildDirectory: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        return directory.path
    }

    /// The Python example plugin's directory.
    static var pythonExampleDirectory: String { self.packageRoot.appendingPathComponent("examples/python-plugin").path }

    /// Settings that see only `directories` (not the machine's PATH), with short timeouts.
    static func settings(_ directories: [String], handshake: Duration = .seconds(10), call: Duration = .seconds(60)) -> PluginSettings {
        PluginSettings(searchPaths: directories, handshakeTimeout: handshake, callTimeout: call, searchesEnvironment: false)
    }

    /// A registry that knows only the plugins in `directories`.
    static func registry(_ directories: [String], handshake: Duration = .seconds(10), call: Duration = .seconds(60)) -> BackendRegistry {
        let registry = BackendRegistry()
        registry.enablePluginDiscovery(self.settings(directories, handshake: handshake, call: call))
        return registry
    }

    /// Writes an executable plugin script `mldeploy-backend-<name>` into `directory`.
    @discardableResult
    static func writePlugin(_ name: String, in directory: URL, _ script: String) throws -> String {
        let path = directory.appendingPathComponent("mldeploy-backend-\(name)").path
        // Written through a descriptor opened close-on-exec, then renamed into place: a process that
        // another test spawns meanwhile must not inherit the open descriptor, or starting the script
        // fails with "Text file busy" (ETXTBSY) for as long as that process runs.
        let temporary = path + ".writing"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let bytes = Array(script.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count, rename(temporary, path) == 0 else { throw POSIXError(.EIO) }
        return path
    }

    /// A small Python plugin speaking the protocol correctly for the handshake, `backend/*` and
    /// `service/list` (an empty list), with `behaviour` (Python, indented 4) deciding the rest: it
    /// runs with `method`, `params` and `mid` (the request id) bound, and answers by calling
    /// `answer(result)`, or not at all.
    static func pythonPlugin(behaviour: String, atStart: String = "pass", protocolVersion: Int = 1) -> String {
        """
        #!/usr/bin/env python3
        import json, os, sys, time, signal, subprocess
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        inp = sys.stdin.buffer

        def send(obj):
            body = json.dumps(obj).encode()
            out.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
            out.flush()

        def read():
            length = None
            while True:
                line = inp.readline()
                if not line:
                    return None
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            return json.loads(inp.read(length))

        \(atStart)
        while True:
            message = read()
            if message is None:
                sys.exit(0)
            method, params, mid = message.get("method"), message.get("params"), message.get("id")
            if mid is None:
                continue
            def answer(result):
                send({"jsonrpc": "2.0", "id": mid, "result": result})
            if method == "initialize":
                answer({"name": "test", "summary": "a test plugin", "protocolVersion": \(protocolVersion), "capabilities": ["pythonServices"]})
            elif method in ("backend/initialize", "backend/authenticate", "backend/shutdown"):
                answer(None)
            elif method == "service/list":
                answer([])
            else:
        \(behaviour.split(separator: "\n", omittingEmptySubsequences: false).map { "        " + $0 }.joined(separator: "\n"))
        """
    }
}
