import Foundation
import MLDeployTestSupport

/// A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with
/// the `openssl` command line at test time.
struct Certificates: Sendable {
    let directory: URL
    var caCertificate: String { self.directory.appendingPathComponent("ca.pem").path }
    var serverCertificate: String { self.directory.appendingPathComponent("server.pem").path }
    var serverKey: String { self.directory.appendingPathComponent("server.key").path }
    var clientCertificate: String { self.directory.appendingPathComponent("client.pem").path }
    var clientKey: String { self.directory.appendingPathComponent("client.key").path }

    /// Made once per test process.
    static let shared: Result<Certificates, any Error> = Result { try Certificates.make() }

    static func make() throws -> Certificates {
        let directory = try temporaryDirectory("tls")
        let script = """
            set -e
            cd '\(directory.path)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=MLDeploy Test CA' 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=mldeploy-client' 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("openssl failed to make test certificates") }
        return Certificates(directory: directory)
    }
}
