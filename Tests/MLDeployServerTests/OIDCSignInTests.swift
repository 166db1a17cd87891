import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `mldeploy serve` accepting an OpenID Connect provider's bearer tokens, against a real issuer on
/// loopback (`Resources/oidc_issuer.py`: discovery, a JWKS, AAD's token endpoint, PyJWT-signed
/// tokens), configured as a user would (`server.oidc.*` in the config file).
@Suite("OIDC sign-in on mldeploy serve", .serialized)
struct OIDCSignInTests {
    /// The issuer: its process and base URL (`http://127.0.0.1:PORT`).
    static func startIssuer() async throws -> (ChildProcess, String) {
        let script = PythonSDKInteropTests.packageRoot.appendingPathComponent("Tests/MLDeployServerTests/Resources/oidc_issuer.py").path
        let issuer = try ChildProcess("/usr/bin/env", ["python3", script], name: "oidc issuer")
        let line = try await issuer.waitForLine { $0.hasPrefix("listening on ") }
        return (issuer, "http://127.0.0.1:" + line.dropFirst("listening on ".count).trimmingCharacters(in: .whitespaces))
    }

    /// A token the issuer mints with `options` (`roles`, `aud`, `expires_in`, `forged`, …).
    static func mint(_ issuer: String, _ options: String) async throws -> String {
        let answer = try await call(URL(string: issuer)!, "POST", "/mint", body: options)
        return try #require(try JSONValue(parsing: answer.body)["token"]?.stringValue, "mint answered \(answer.body)")
    }

    /// `mldeploy serve` with `server.oidc.*` for the issuer at `issuer`.
    static func serve(_ directory: URL, issuer: String) async throws -> (ChildProcess, URL) {
        let config = directory.appendingPathComponent("mldeploy.yaml")
        try """
        server:
          oidc:
            issuer: \(issuer)/t1/v2.0
            audience: api://mldeploy
            owners: mldeploy.owner
            contributors: mldeploy.contributor, ml-writers
            readers: mldeploy.reader
        """.write(to: config, atomically: true, encoding: .utf8)
        return try await ServerMetricsTests.serve(directory.appendingPathComponent("data"), arguments: ["--config", config.path], environment: ["MLDEPLOY_RUNTIME_ISOLATION": "none"])
    }

    @Test("an identity provider's tokens sign users in with mapped roles; wrong audience, expired, not yet valid, forged or unmapped tokens are 401s; key rotation is followed", .timeLimit(.minutes(3)))
    func signIn() async throws {
        let directory = try temporaryDirectory("oidc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (issuerProcess, issuer) = try await Self.startIssuer()
        defer { issuerProcess.stop() }
        let (server, base) = try await Self.serve(directory, issuer: issuer)
        defer { server.stop() }
        let publish = #"{"code": "y = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "numeric"}], "outputParameterDefinitions": [{"name": "y", "type": "numeric"}]}"#

        // A contributor (by one of two mapped values) publishes and consumes; the service is theirs.
        let carol = try await Self.mint(issuer, #"{"sub": "carol", "roles": ["ml-writers"]}"#)
        let published = try await call(base, "POST", "/services/doubler/1", body: publish, token: carol)
        #expect(published.status == 201, "\(published.body)")
        let consumed = try await call(base, "POST", "/api/doubler/1", body: #"{"x": 21}"#, token: carol)
        #expect(consumed.status == 200 && consumed.body.contains("42"), "\(consumed.body)")
        let listed = try await call(base, "GET", "/services/doubler/1", token: carol)
        #expect(listed.status == 200 && listed.body.contains("carol"), "the publisher is the token's user: \(listed.body)")

        // A reader consumes but may not publish; an owner may delete another's service.
        let rita = try await Self.mint(issuer, #"{"sub": "rita", "roles": ["mldeploy.reader"]}"#)
        #expect(try await call(base, "POST", "/api/doubler/1", body: #"{"x": 1}"#, token: rita).status == 200)
        #expect(try await call(base, "POST", "/services/other/1", body: publish, token: rita).status == 403)
        // Values of several roles: the highest wins.
        let olga = try await Self.mint(issuer, #"{"sub": "olga", "roles": ["mldeploy.reader", "mldeploy.owner"]}"#)
        #expect(try await call(base, "DELETE", "/services/doubler/1", token: olga).status == 200)

        // Tokens that do not hold: each a 401 saying why.
        let refusals: [(String, String)] = [
            (#"{"sub": "nobody", "roles": ["something-else"]}"#, "no role"),
            (#"{"sub": "alice", "roles": ["mldeploy.owner"], "aud": "api://another-app"}"#, "audience"),
            (#"{"sub": "alice", "roles": ["mldeploy.owner"], "expires_in": -300}"#, "expired"),
            (#"{"sub": "alice", "roles": ["mldeploy.owner"], "not_before_in": 600}"#, "NotBefore"),
            (#"{"sub": "alice", "roles": ["mldeploy.owner"], "forged": true}"#, "signature"),
            (#"{"sub": "alice", "roles": ["mldeploy.owner"], "unpublished_key": true}"#, "does not publish"),
        ]
        for (options, reason) in refusals {
            let answer = try await call(base, "GET", "/services", token: try await Self.mint(issuer, options))
            #expect(answer.status == 401 && answer.body.localizedCaseInsensitiveContains(reason), "\(options): \(answer.status) \(answer.body)")
        }
        #expect(try await call(base, "GET", "/services", token: "not.a.token").status == 401)

        // Rotation: the provider signs with a new key and publishes only it; the server fetches the
        // new key set when it meets the new key id, and the old key's tokens stop working. (A key
        // id the keys lack makes the server fetch them at most once per 10 s, and the unpublished
        // key above just did.)
        let before = try await Self.mint(issuer, #"{"sub": "carol", "roles": ["mldeploy.contributor"]}"#)
        #expect(try await call(base, "GET", "/services", token: before).status == 200)
        _ = try await call(URL(string: issuer)!, "POST", "/rotate", body: "{}")
        try await Task.sleep(for: .seconds(11))
        let after = try await Self.mint(issuer, #"{"sub": "carol", "roles": ["mldeploy.contributor"]}"#)
        #expect(try await call(base, "GET", "/services", token: after).status == 200, "a token of the new key")
        #expect(try await call(base, "GET", "/services", token: before).status == 401, "a token of the retired key")

        // Local users still sign in as before.
        let admin = try #require(try await ServerMetricsTests.login(base).token)
        #expect(try await call(base, "GET", "/services", token: admin).status == 200)
    }

    @Test("the MLServer backend's AAD sign-in (client credentials) works against mldeploy serve with OIDC", .timeLimit(.minutes(3)))
    func aadClientCredentials() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        let (issuerProcess, issuer) = try await Self.startIssuer()
        defer { issuerProcess.stop() }
        let (server, base) = try await Self.serve(cli.directory, issuer: issuer)
        defer { server.stop() }
        cli.environment.merge(["MLDEPLOY_AAD_AUTHORITY": issuer, "MLDEPLOY_AAD_TENANT": "t1", "MLDEPLOY_AAD_RESOURCE": "api://mldeploy"]) { _, new in new }
        try cli.write("double.py", "y = x * 2\n")
        let target = ["--target", "mlserver+http://\(base.host!):\(base.port!)"]

        cli.environment.merge(["MLDEPLOY_AAD_CLIENT_ID": "ml-ops", "MLDEPLOY_AAD_CLIENT_SECRET": "ops-secret"]) { _, new in new }
        let deployed = try await cli.run(target + ["deploy", "aadsvc", "--version", "1", "--code", "double.py", "--input", "x=numeric", "--output", "y=numeric"])
        #expect(deployed.status == 0, "\(deployed.output)\(deployed.error)")
        let consumed = try await cli.run(target + ["consume", "aadsvc", "--version", "1", "x=4"])
        #expect(consumed.status == 0 && consumed.output.contains("8"), "\(consumed.output)\(consumed.error)")

        // A client whose role is Reader: consumes, may not publish.
        cli.environment.merge(["MLDEPLOY_AAD_CLIENT_ID": "ml-app", "MLDEPLOY_AAD_CLIENT_SECRET": "app-secret"]) { _, new in new }
        #expect(try await cli.run(target + ["consume", "aadsvc", "--version", "1", "x=1"]).status == 0)
        let refused = try await cli.run(target + ["deploy", "other", "--version", "1", "--code", "double.py"])
        #expect(refused.status != 0 && refused.error.contains("permission-denied"), "\(refused.output)\(refused.error)")
        // A wrong secret: the provider refuses, and so does the CLI.
        cli.environment["MLDEPLOY_AAD_CLIENT_SECRET"] = "wrong"
        let denied = try await cli.run(target + ["list"])
        #expect(denied.status != 0 && denied.error.contains("authentication-failed"), "\(denied.output)\(denied.error)")
    }

    @Test("bad OIDC settings stop mldeploy serve before it starts, naming the key")
    func badSettings() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try "server:\n  oidc:\n    issuer: https://login.example.com/t1/v2.0\n".write(to: cli.directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let noAudience = try await cli.run(["--config", "a.yaml", "serve", "--port", "0"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(noAudience.status != 0 && noAudience.error.contains("server.oidc.audience"), "\(noAudience.output)\(noAudience.error)")
        try "server:\n  oidc:\n    audience: api://x\n".write(to: cli.directory.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        let noIssuer = try await cli.run(["--config", "b.yaml", "serve", "--port", "0"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(noIssuer.status != 0 && noIssuer.error.contains("server.oidc.issuer"), "\(noIssuer.output)\(noIssuer.error)")
        try "server:\n  oidc:\n    issuer: ftp://nowhere\n    audience: api://x\n".write(to: cli.directory.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        let badIssuer = try await cli.run(["--config", "c.yaml", "serve", "--port", "0"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(badIssuer.status != 0 && badIssuer.error.contains("server.oidc.issuer"), "\(badIssuer.output)\(badIssuer.error)")
    }
}
