import Foundation
import MLDeployTestSupport

/// nginx (from Debian) on loopback: a plain HTTP/1.1 server with `stub_status` (to count accepted
/// connections) and an HTTPS server offering HTTP/2.
final class Nginx: Sendable {
    let child: ChildProcess
    let httpPort: Int
    let httpsPort: Int
    let directory: URL

    private init(child: ChildProcess, httpPort: Int, httpsPort: Int, directory: URL) {
        self.child = child
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.directory = directory
    }

    static func start(certificates: Certificates) async throws -> Nginx {
        let directory = try temporaryDirectory("nginx")
        let httpPort = try freePort(), httpsPort = try freePort()
        let prefix = directory.path
        let config = nginxConfigurationHead(prefix: prefix) + """
                keepalive_requests 1000000;
                server {
                    listen 127.0.0.1:\(httpPort) backlog=1024;
                    location = /small.json { default_type application/json; return 200 '{"status":"ok","service":"mldeploy-bench","values":[1,2,3,4,5,6,7,8,9,10],"message":"a small json body"}'; }
                    location = /stub { stub_status; }
                }
                server {
                    listen 127.0.0.1:\(httpsPort) ssl http2;
                    ssl_certificate \(certificates.serverCertificate);
                    ssl_certificate_key \(certificates.serverKey);
                    location / { default_type application/json; return 200 '{"secure":true}'; }
                }
            }
            """
        let configFile = directory.appendingPathComponent("nginx.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let child = try ChildProcess("/usr/sbin/nginx", ["-p", prefix, "-c", configFile.path], name: "nginx")
        try await waitUntilListening(port: httpPort)
        try await waitUntilListening(port: httpsPort)
        return Nginx(child: child, httpPort: httpPort, httpsPort: httpsPort, directory: directory)
    }

    func stop() {
        self.child.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }
}
