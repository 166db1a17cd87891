import Foundation
import MLDeploy
import MLDeployTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real OpenLDAP server (Debian's `slapd`) on loopback with a small directory: people, a
/// service account, and groups (`groupOfNames`).
final class Slapd: Sendable {
    let child: ChildProcess
    let port: Int
    var url: String { "ldap://127.0.0.1:\(self.port)" }

    /// Loads the directory with `slapadd`, then starts `slapd` in the foreground.
    init(directory: URL) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/slapd"), "no slapd: run scripts/bootstrap.sh (Debian's slapd)")
        let database = directory.appendingPathComponent("db")
        try FileManager.default.createDirectory(at: database, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("slapd.conf")
        try """
        include /etc/ldap/schema/core.schema
        include /etc/ldap/schema/cosine.schema
        include /etc/ldap/schema/inetorgperson.schema
        modulepath /usr/lib/ldap
        moduleload back_mdb
        pidfile \(directory.path)/slapd.pid
        database mdb
        maxsize 16777216
        suffix "dc=example,dc=org"
        rootdn "cn=admin,dc=example,dc=org"
        rootpw admin-secret
        directory \(database.path)
        access to attrs=userPassword by anonymous auth by * none
        access to * by users read by * none
        """.write(to: config, atomically: true, encoding: .utf8)
        func person(_ uid: String, _ password: String) -> String {
            "dn: uid=\(uid),ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: \(uid)\ncn: \(uid)\nsn: \(uid)\nuserPassword: \(password)\n"
        }
        func group(_ name: String, _ members: [String]) -> String {
            "dn: cn=\(name),ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: \(name)\n" + members.map { "member: uid=\($0),ou=people,dc=example,dc=org\n" }.joined()
        }
        let entries = [
            "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
            "dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n",
            "dn: ou=groups,dc=example,dc=org\nobjectClass: organizationalUnit\nou: groups\n",
            person("svc-mldeploy", "svc-pass"), person("alice", "alice-pass"), person("bob", "bob-pass"), person("dora", "dora-pass"), person("eve", "eve-pass"),
            group("ml-owners", ["alice"]), group("ml-writers", ["dora"]), group("ml-readers", ["bob", "dora"]), group("staff", ["eve"]),
        ]
        let ldif = directory.appendingPathComponent("directory.ldif")
        try entries.joined(separator: "\n").write(to: ldif, atomically: true, encoding: .utf8)
        let loaded = try await runToCompletion("/usr/sbin/slapadd", ["-f", config.path, "-l", ldif.path])
        try #require(loaded.status == 0, "slapadd failed: \(loaded.output)")
        self.port = try freePort()
        self.child = try ChildProcess("/usr/sbin/slapd", ["-f", config.path, "-h", "ldap://127.0.0.1:\(self.port)/", "-d", "0"], name: "slapd")
        try await waitUntilListening(port: self.port)
    }
}

/// `mldeploy serve` signing in directory users at `POST /login`, against a real slapd.
@Suite("LDAP sign-in on mldeploy serve", .serialized)
struct LDAPSignInTests {
    static let publish = #"{"code": "y = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "numeric"}], "outputParameterDefinitions": [{"name": "y", "type": "numeric"}]}"#

    static func login(_ base: URL, _ user: String, _ password: String) async throws -> (status: Int, body: String, token: String?, refresh: String?) {
        let answer = try await call(base, "POST", "/login", body: #"{"username": "\#(user)", "password": "\#(password)"}"#)
        let json = try? JSONValue(parsing: answer.body)
        return (answer.status, answer.body, json?["access_token"]?.stringValue, json?["refresh_token"]?.stringValue)
    }

    @Test("directory users log in with their passwords and get the role their groups map to; wrong passwords, unknown users, filter injection and users in no mapped group are refused", .timeLimit(.minutes(3)))
    func signIn() async throws {
        let directory = try temporaryDirectory("ldap")
        defer { try? FileManager.default.removeItem(at: directory) }
        let slapd = try await Slapd(directory: directory)
        defer { slapd.child.stop() }
        let config = directory.appendingPathComponent("mldeploy.yaml")
        try """
        server:
          ldap:
            url: \(slapd.url)
            bind_dn: uid=svc-mldeploy,ou=people,dc=example,dc=org
            bind_password: svc-pass
            user_base: ou=people,dc=example,dc=org
            group_base: ou=groups,dc=example,dc=org
            owners: ml-owners
            contributors: ml-writers
            readers: ml-readers
        """.write(to: config, atomically: true, encoding: .utf8)
        let (server, base) = try await ServerMetricsTests.serve(directory.appendingPathComponent("data"), arguments: ["--config", config.path], environment: ["MLDEPLOY_RUNTIME_ISOLATION": "none"])
        defer { server.stop() }

        // An owner by group; a reader; a member of a reader and a contributor group gets the higher.
        let alice = try await Self.login(base, "alice", "alice-pass")
        let aliceToken = try #require(alice.token, "\(alice.status) \(alice.body)")
        #expect(try await call(base, "POST", "/services/ldapsvc/1", body: Self.publish, token: aliceToken).status == 201)
        let bob = try #require(try await Self.login(base, "bob", "bob-pass").token)
        #expect(try await call(base, "POST", "/api/ldapsvc/1", body: #"{"x": 2}"#, token: bob).status == 200)
        #expect(try await call(base, "POST", "/services/bobsvc/1", body: Self.publish, token: bob).status == 403)
        let dora = try #require(try await Self.login(base, "dora", "dora-pass").token)
        let doras = try await call(base, "POST", "/services/dorasvc/1", body: Self.publish, token: dora)
        #expect(doras.status == 201, "\(doras.body)")
        let dorasService = try await call(base, "GET", "/services/dorasvc/1", token: dora)
        #expect(dorasService.body.contains("\"dora\""), "the publisher is the directory user: \(dorasService.body)")
        // A contributor may not delete another's service; the owner may.
        #expect(try await call(base, "DELETE", "/services/ldapsvc/1", token: dora).status == 403)
        #expect(try await call(base, "DELETE", "/services/dorasvc/1", token: aliceToken).status == 200)

        // Refusals: each a 401, none revealing more than "invalid".
        #expect(try await Self.login(base, "alice", "wrong").status == 401)
        #expect(try await Self.login(base, "alice", "").status == 401, "an empty password is never an (unauthenticated) bind")
        #expect(try await Self.login(base, "nobody", "x").status == 401)
        #expect(try await Self.login(base, "*", "alice-pass").status == 401, "a filter wildcard matches nobody")
        #expect(try await Self.login(base, "al*", "alice-pass").status == 401, "unescaped, this would find alice alone and sign her in")
        #expect(try await Self.login(base, "alice)(uid=*", "alice-pass").status == 401, "filter injection matches nobody")
        let eve = try await Self.login(base, "eve", "eve-pass")
        #expect(eve.status == 401 && eve.body.contains("no role") && eve.body.contains("staff"), "\(eve.body)")

        // Directory users' tokens are not refreshed: the directory is asked again at the next login.
        let refresh = try #require(alice.refresh)
        let refreshed = try await call(base, "POST", "/login/refreshToken", body: #"{"refreshToken": "\#(refresh)"}"#)
        #expect(refreshed.status == 401, "\(refreshed.body)")

        // Local users still log in; the directory going away leaves them working and makes directory
        // logins a 503 (try again), not a 401.
        let admin = try #require(try await ServerMetricsTests.login(base).token)
        slapd.child.stop()
        #expect(try await call(base, "GET", "/services", token: admin).status == 200)
        let away = try await Self.login(base, "alice", "alice-pass")
        #expect(away.status == 503 && away.body.contains("directory"), "\(away.status) \(away.body)")
    }

    @Test("bad LDAP settings stop mldeploy serve before it starts, naming the key")
    func badSettings() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try "server:\n  ldap:\n    url: ldap://127.0.0.1:1\n".write(to: cli.directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let noBase = try await cli.run(["--config", "a.yaml", "serve", "--port", "0"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(noBase.status != 0 && noBase.error.contains("server.ldap.user_base"), "\(noBase.output)\(noBase.error)")
        try "server:\n  ldap:\n    url: http://dc.example.org\n    user_base: ou=people,dc=example,dc=org\n".write(to: cli.directory.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        let badURL = try await cli.run(["--config", "b.yaml", "serve", "--port", "0"], environment: ["MLDEPLOY_ADMIN_PASSWORD": "p"])
        #expect(badURL.status != 0 && badURL.error.contains("server.ldap.url"), "\(badURL.output)\(badURL.error)")
    }
}
