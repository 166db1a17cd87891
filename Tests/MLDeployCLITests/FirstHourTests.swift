import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

/// What a new user meets in the first hour: errors that say what happened, the README's profile
/// and login, and the CLI doing what the library does.
@Suite("mldeploy: errors, login sessions and commands a new user meets first", .serialized)
struct FirstHourTests {
    @Test("a wrong input is an input error naming the input and the accepted forms: arguments, batch files and the server's answer")
    func inputErrors() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        try cli.write("c.py", "total = x * 2\n")
        let target = ["--target", "file:./s"]
        #expect(try await cli.run(target + ["deploy", "doubler", "--version", "1", "--code", "c.py", "--input", "x=numeric", "--output", "total=numeric"]).status == 0)
        let argument = try await cli.run(target + ["consume", "doubler", #"x="abc""#])
        #expect(argument.status == 1 && argument.error.contains("error[input-mismatch]") && argument.error.contains("Input 'x'") && argument.error.contains("a number"), "\(argument.error)")
        #expect(!argument.error.contains("Output") && !argument.error.contains("Make the service produce"), "\(argument.error)")
        let plainText = try await cli.run(target + ["consume", "doubler", "x=abc"])
        #expect(plainText.status == 1 && plainText.error.contains("error[input-mismatch]") && plainText.error.contains("Input 'x'") && plainText.error.contains("a number"), "\(plainText.error)")
        try cli.write("r.jsonl", "{\"x\": 1}\n{\"x\": \"abc\"}\n")
        let jsonl = try await cli.run(target + ["batch", "doubler", "--records", "r.jsonl"])
        #expect(jsonl.status == 1 && jsonl.error.contains("error[input-mismatch]") && jsonl.error.contains("r.jsonl:2") && jsonl.error.contains("Input 'x'"), "\(jsonl.error)")
        try cli.write("r.csv", "x\n1\nabc\n")
        let csv = try await cli.run(target + ["batch", "doubler", "--records", "r.csv"])
        #expect(csv.status == 1 && csv.error.contains("error[input-mismatch]") && csv.error.contains("r.csv:3") && csv.error.contains("Input 'x'"), "\(csv.error)")

        // The server's answer to the same mistake, to a client that does not check first.
        let server = try await TestServer(cli)
        defer { server.stop() }
        let auth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Pass123!"]
        #expect(try await cli.run(["--target", server.target, "deploy", "doubler", "--version", "1", "--code", "c.py", "--input", "x=numeric", "--output", "total=numeric"], environment: auth).status == 0)
        let login = try await runToCompletion("/usr/bin/curl", ["-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"username":"admin","password":"Pass123!"}"#, server.base + "/login"])
        let token = try #require(try JSONValue(parsing: Data(login.output.utf8))["access_token"]?.stringValue)
        let answer = try await runToCompletion("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "-d", #"{"x":"abc"}"#, server.base + "/api/doubler/1"])
        #expect(answer.output.hasSuffix("\n400") && answer.output.contains("input-mismatch") && answer.output.contains("Input 'x'"), "\(answer.output)")
    }

    @Test("an unreachable server is 'unreachable'; something that is not ML Server says so with a short excerpt; a wrong password is a login failure")
    func connectionErrors() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let auth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "wrong", "MLDEPLOY_HTTP_RETRY_ATTEMPTS": "1"]
        let port = try freePort()
        let down = try await cli.run(["--target", "mlserver+http://127.0.0.1:\(port)", "list"], environment: auth)
        #expect(down.status == 1 && down.error.contains("error[unreachable]") && !down.error.contains("credentials"), "\(down.error)")

        // A web server that is not ML Server: its HTML error page must not be dumped as a login failure.
        let web = try ChildProcess("/usr/bin/env", ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", cli.directory.path], name: "http.server")
        defer { web.stop() }
        _ = try await web.waitForLine { $0.contains("Serving HTTP") }
        for environment in [auth, ["MLDEPLOY_HTTP_RETRY_ATTEMPTS": "1"]] {
            let foreign = try await cli.run(["--target", "mlserver+http://127.0.0.1:\(port)", "list"], environment: environment)
            let line = foreign.error.split(separator: "\n").first.map(String.init) ?? ""
            #expect(foreign.status == 1 && line.contains("error[invalid-response]") && line.contains("not as an ML Server"), "\(foreign.error)")
            #expect(!foreign.error.contains("<html") && !foreign.error.contains("<!DOCTYPE") && foreign.error.count < 600, "a short excerpt only: \(foreign.error)")
            #expect(!foreign.error.contains("Check the credentials") && !foreign.error.contains(".."), "\(foreign.error)")
        }
        web.stop()

        let server = try await TestServer(cli)
        defer { server.stop() }
        let refused = try await cli.run(["--target", server.target, "list"], environment: auth)
        #expect(refused.status == 1 && refused.error.contains("error[authentication-failed]") && refused.error.contains("user name and password"), "\(refused.error)")
        #expect(!refused.error.contains(".."), "no doubled punctuation: \(refused.error)")
    }

    @Test("messages speak to CLI users: no Swift API names, no doubled punctuation, a readable doctor")
    func messages() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let target = ["--target", "file:./s"]
        let missing = try await cli.run(target + ["get", "nothing"])
        let missingVersion = try await cli.run(target + ["get", "nothing", "--version", "2"])
        let unknownBackend = try await cli.run(["--target", "nosuch:x", "list"])
        for result in [missing, missingVersion, unknownBackend] {
            #expect(result.status == 1 && result.error.hasPrefix("error["), "\(result.error)")
            for swiftism in ["()", "(_:", "BackendRegistry", "DeployTarget", ".shared", "..", "::"] {
                #expect(!result.error.contains(swiftism), "'\(swiftism)' in: \(result.error)")
            }
        }
        let doctor = try await cli.run(["doctor", "--target", "memory:"])
        #expect(doctor.status == 0 && doctor.output.contains("target: 'memory:' is reachable") && !doctor.output.contains("memory::"), "\(doctor.output)")
    }

    @Test("the README's server profile: login with a user named in the profile, then every command with the cached session; commands leave no tokens behind")
    func profileLogin() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let server = try await TestServer(cli)
        defer { server.stop() }
        try cli.write("mldeploy.yaml", """
            target: file:./services
            profiles:
              server:
                target: \(server.target)
                auth: { username: admin }
            """)
        try cli.write("double.py", "total = x * 2\n")
        let password = ["MLDEPLOY_PASSWORD": "Pass123!"]
        let before = try server.refreshTokenCount()

        let login = try await cli.run(["login", "--profile", "server"], environment: password)
        #expect(login.status == 0 && login.output.contains("logged in"), "\(login.error)")
        #expect(try server.refreshTokenCount() == before + 1)
        for command in [["list"], ["deploy", "doubler", "--version", "1.0", "--code", "double.py", "--input", "x=numeric", "--output", "total=numeric"],
                        ["consume", "doubler", "x=21"], ["get", "doubler"], ["config", "show"], ["demo"]] {
            let result = try await cli.run(command + ["--profile", "server"])
            #expect(result.status == 0, "\(command): \(result.output) \(result.error)")
        }
        #expect(try await cli.run(["consume", "doubler", "x=21", "--profile", "server"]).output.contains("total: 42.0"))
        // With the password configured too, the cached session is still what is used: no new logins.
        for _ in 0..<3 { #expect(try await cli.run(["list", "--profile", "server"], environment: password).status == 0) }
        #expect(try server.refreshTokenCount() == before + 1, "commands reuse the cached session")

        // A cached session for one user does not stand in for another.
        try cli.write("bob.yaml", "target: \(server.target)\nauth: { username: bob }\n")
        let bob = try await cli.run(["list", "--config", "bob.yaml"])
        #expect(bob.status == 1 && bob.error.contains("invalid-configuration") && bob.error.contains("mldeploy login"), "\(bob.error)")

        let logout = try await cli.run(["logout", "--profile", "server"])
        #expect(logout.status == 0 && logout.output.contains("revoked"), "\(logout.output) \(logout.error)")
        #expect(try server.refreshTokenCount() == before, "logout revokes the session's refresh token")
        let after = try await cli.run(["list", "--profile", "server"])
        #expect(after.status == 1 && after.error.contains("invalid-configuration"), "no session, no password: \(after.error)")

        // The password on standard input completes the profile's user.
        let stdinLogin = try await cli.run(["login", "--profile", "server", "--password-stdin"], input: "Pass123!\n")
        #expect(stdinLogin.status == 0, "\(stdinLogin.error)")
        #expect(try await cli.run(["logout", "--profile", "server"]).status == 0)
        let count = try server.refreshTokenCount()

        // Without a cached session, commands that log in with a password revoke what they got.
        let environment = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Pass123!"]
        for _ in 0..<4 {
            #expect(try await cli.run(["--target", server.target, "list"], environment: environment).status == 0)
        }
        #expect(try server.refreshTokenCount() == count, "no refresh tokens left behind by one-command logins")
    }

    @Test("redeploy-realtime, consume's console output and artifacts, and a memory: deploy that warns")
    func commands() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let target = ["--target", "file:./s"]
        try cli.write("m2.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [2], intercept: 0)))
        try cli.write("m3.onnx", bytes: Array(ONNXModel.linearRegressor(coefficients: [3], intercept: 0)))
        #expect(try await cli.run(target + ["deploy-realtime", "rt", "--version", "1", "--model", "m2.onnx"]).status == 0)
        let input = #"inputData={"x": [5]}"#
        #expect(try await cli.run(target + ["consume", "rt", input]).output.contains("10"))
        let redeployed = try await cli.run(target + ["redeploy-realtime", "rt", "--version", "1", "--model", "m3.onnx", "--description", "times three"])
        #expect(redeployed.status == 0 && redeployed.output.contains("rt 1 — times three"), "\(redeployed.error)")
        #expect(try await cli.run(target + ["consume", "rt", input]).output.contains("15"), "the new model scores")
        let nothing = try await cli.run(target + ["redeploy-realtime", "rt", "--version", "1"])
        #expect(nothing.status == 64 && nothing.error.contains("changes nothing"))
        let noModel = try await cli.run(target + ["deploy-realtime", "rt2", "--version", "1"])
        #expect(noModel.status == 64 && noModel.error.contains("--model"), "a missing model is a usage error: \(noModel.error)")
        let absent = try await cli.run(target + ["redeploy-realtime", "nope", "--version", "1", "--model", "m3.onnx"])
        #expect(absent.status == 1 && absent.error.contains("error[not-found]"))

        try cli.write("c.py", "print('working on', x)\nwith open('out.txt', 'w') as f:\n    f.write('x=%s' % x)\ny = x + 1\n")
        #expect(try await cli.run(target + ["deploy", "talker", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer", "--artifact", "out.txt"]).status == 0)
        let text = try await cli.run(target + ["consume", "talker", "x=1", "--save-artifacts", "art"])
        #expect(text.status == 0 && text.output.contains("y: 2") && text.error.contains("working on 1") && !text.output.contains("working on"), "\(text.output) \(text.error)")
        #expect(try String(contentsOf: cli.directory.appendingPathComponent("art/out.txt"), encoding: .utf8) == "x=1")
        let json = try JSONValue(parsing: Data(try await cli.run(target + ["consume", "talker", "x=4", "--format", "json"]).output.utf8))
        #expect(json["consoleOutput"]?.stringValue?.contains("working on 4") == true && json["outputParameters"]?["y"] == 5 && json["outputFiles"]?["out.txt"] != nil, "\(json)")
        try cli.write("bad.py", "y = = x\n")
        let syntax = try await cli.run(target + ["deploy", "broken", "--version", "1", "--code", "bad.py", "--input", "x=integer", "--output", "y=integer"])
        #expect(syntax.status == 1 && syntax.error.contains("does not compile") && syntax.error.contains("line 1"), "\(syntax.error)")
        #expect(try await cli.run(target + ["list", "broken"]).output.contains("broken") == false, "nothing was stored")
        try cli.write("badinit.py", "import\n")
        let initSyntax = try await cli.run(target + ["deploy", "broken", "--version", "1", "--code", "c.py", "--init", "badinit.py", "--input", "x=integer", "--output", "y=integer"])
        #expect(initSyntax.status == 1 && initSyntax.error.contains("init code"), "\(initSyntax.error)")

        // memory: is the default with no configuration: what a command deploys there is gone after it.
        let ephemeral = try await cli.run(["deploy", "gone", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"])
        #expect(ephemeral.status == 0 && ephemeral.error.contains("warning:") && ephemeral.error.contains("memory:"), "\(ephemeral.error)")
        #expect(!(try await cli.run(target + ["deploy", "kept", "--version", "1", "--code", "c.py", "--input", "x=integer", "--output", "y=integer"]).error.contains("warning")))
    }

    @Test("users list never creates a data directory; config show prints defaults and warns about unknown keys")
    func usersAndConfig() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let list = try await cli.run(["users", "list"])
        #expect(list.status == 1 && list.error.contains("no server data directory"), "\(list.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("mldeploy-data").path))
        let add = try await cli.run(["users", "add", "alice", "--password-stdin", "--data-dir", "data"], input: "secret-1\n")
        #expect(add.status == 0 && FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("data/users.json").path), "users add makes the directory: \(add.error)")

        try cli.write("mldeploy.yaml", "target: file:./s\ncolour: blue\nhttp:\n  timout: { connect: 3 }\n")
        let shown = try await cli.run(["config", "show"])
        #expect(shown.status == 0 && shown.output.contains("http.timeout.connect") && shown.output.contains("default") && shown.output.contains("12800"), "\(shown.output)")
        #expect(shown.error.contains("warning:") && shown.error.contains("'colour'") && shown.error.contains("'http.timout'"), "\(shown.error)")
        let listed = try await cli.run(["list"])
        #expect(listed.status == 0 && listed.error.contains("'colour'"), "every command warns: \(listed.error)")
    }

    @Test("demo runs on a server target (a Python service) and prints JSON with --format json")
    func demoOnServer() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let server = try await TestServer(cli)
        defer { server.stop() }
        let auth = ["MLDEPLOY_USERNAME": "admin", "MLDEPLOY_PASSWORD": "Pass123!"]
        let text = try await cli.run(["--target", server.target, "demo"], environment: auth)
        #expect(text.status == 0 && text.output.contains("Python code") && text.output.contains("P(manual | hp=120, wt=2.8) = 0.642") && text.output.contains("record 3: 1.0"), "\(text.output) \(text.error)")
        let json = try await cli.run(["--target", server.target, "--format", "json", "demo"], environment: auth)
        let value = try JSONValue(parsing: Data(json.output.utf8))
        #expect(value["consumed"]?["probability"] == .double(0.642) && value["deleted"] == true && value["batch"]?.arrayValue?.count == 4, "\(json.output) \(json.error)")
        #expect(try await cli.run(["--target", server.target, "list"], environment: auth).output.contains("TxService") == false, "the demo cleans up")
    }
}
