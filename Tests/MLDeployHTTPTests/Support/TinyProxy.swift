import Foundation
import MLDeployTestSupport

/// A real forward proxy (tinyproxy, from Debian) on a loopback port, logging every request it
/// forwards — so tests can prove from the proxy's side which requests went through it.
final class TinyProxy: Sendable {
    let child: ChildProcess
    let port: Int
    let log: URL
    let directory: URL

    private init(child: ChildProcess, port: Int, log: URL, directory: URL) {
        self.child = child
        self.port = port
        self.log = log
        self.directory = directory
    }

    /// Starts tinyproxy; with `credentials`, it demands them (HTTP Basic).
    static func start(credentials: (user: String, password: String)? = nil) async throws -> TinyProxy {
        let directory = try temporaryDirectory("proxy")
        let port = try freePort()
        let log = directory.appendingPathComponent("tinyproxy.log")
        var config = """
            Port \(port)
            Listen 127.0.0.1
            Timeout 30
            LogFile "\(log.path)"
            LogLevel Info
            MaxClients 200
            Allow 127.0.0.1

            """
        if let credentials { config += "BasicAuth \(credentials.user) \(credentials.password)\n" }
        let configFile = directory.appendingPathComponent("tinyproxy.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let child = try ChildProcess("/usr/bin/tinyproxy", ["-d", "-c", configFile.path], name: "tinyproxy")
        try await waitUntilListening(port: port)
        return TinyProxy(child: child, port: port, log: log, directory: directory)
    }

    /// `http://[user:password@]127.0.0.1:PORT`.
    func url(credentials: (user: String, password: String)? = nil) -> String {
        let userInfo = credentials.map { "\($0.user):\($0.password)@" } ?? ""
        return "http://\(userInfo)127.0.0.1:\(self.port)"
    }

    /// What the proxy has logged so far.
    var logText: String {
        (try? String(contentsOf: self.log, encoding: .utf8)) ?? ""
    }

    func stop() {
        self.child.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

