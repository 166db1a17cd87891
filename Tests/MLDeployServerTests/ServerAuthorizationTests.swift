import Foundation
import MLDeploy
import MLDeployServer
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Who may call what: the route × role table walked for every role, the table in docs/server.md,
/// and the ownership rules behind the "own" entries (sessions, service names and versions,
/// batches), and tokens that die with their account.
@Suite("Server authorization: roles on every route, ownership, tokens bound to accounts")
struct ServerAuthorizationTests {
    static let roles: [(user: String?, role: ServerRole?)] = [(nil, nil), ("rita", .reader), ("carol", .contributor), ("admin", .owner)]

    @Test("every served route has an access rule, and every rule a route")
    func tableCoversRoutes() async throws {
        try await withServer { server in
            #expect(Set(server.server.routes) == Set(RouteAccess.table.keys))
        }
    }

    @Test("docs/server.md prints the server's own table")
    func documentedTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/server.md"), encoding: .utf8)
        var documented: [String: [String]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 5, cells[0].hasSuffix("`"), ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(where: { cells[0].hasPrefix("`\($0) /") }) else { continue }
            documented[String(cells[0].dropFirst().dropLast())] = Array(cells[1...4])
        }
        for (route, rule) in RouteAccess.table {
            let expected = Self.roles.map { entry -> String in
                guard rule.admits(entry.role) else { return "no" }
                return rule.ownScope != nil && entry.role != .owner && entry.role != nil ? "own" : "yes"
            }
            #expect(documented[route] == expected, "\(route): docs \(documented[route] ?? []), server \(expected)")
        }
        #expect(Set(documented.keys) == Set(RouteAccess.table.keys), "routes in the docs table that the server does not serve: \(Set(documented.keys).subtracting(RouteAccess.table.keys))")
    }

    @Test("the whole table, walked: each route with no token and as each role is refused or let through as it says")
    func walk() async throws {
        try await withServer(python: true) { server in
            var tokens: [String: String] = [:]
            for user in ["rita", "carol", "admin"] { tokens[user] = try await server.token(user) }
            for (route, rule) in RouteAccess.table.sorted(by: { $0.key < $1.key }) {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = String(parts[0])
                // Absent resources: a role that passes gets its 400 or 404, never a 401 or 403.
                var path = String(parts[1])
                for parameter in ["name", "version", "id", "object", "snapshot", "execution", "file"] { path = path.replacingOccurrences(of: "{\(parameter)}", with: "walk-absent") }
                path = path.replacingOccurrences(of: "{index}", with: "0")
                for (user, role) in Self.roles {
                    var token = user.flatMap { tokens[$0] }
                    // Revoking an access token ends it: use a fresh one.
                    if route == "DELETE /login/accessToken", let user { token = try await server.token(user) }
                    let status = try await call(server.base, method, path, body: ["POST", "PATCH", "PUT"].contains(method) ? "{}" : nil, token: token).status
                    let who = user ?? "no token"
                    if rule.minimumRole == nil {
                        #expect(status != 401 && status != 403, "\(route) is open, yet \(who) got \(status)")
                    } else if role == nil {
                        #expect(status == 401, "\(route) without a token: \(status)")
                    } else if rule.admits(role) {
                        #expect(status != 401 && status != 403, "\(route) admits \(who) (\(role!)), who got \(status)")
                    } else {
                        #expect(status == 403, "\(route) refuses \(who) (\(role!)), who got \(status)")
                    }
                }
            }
        }
    }

    @Test("a Reader can neither open a session nor execute code (it once read the signing key that way)")
    func readerRunsNoCode() async throws {
        try await withServer(python: true) { server in
            let (reader, contributor) = (try await server.token("rita"), try await server.token("carol"))
            #expect(try await call(server.base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: reader).status == 403)
            let opened = try await call(server.base, "POST", "/sessions", body: #"{"runtimeType": "Python"}"#, token: contributor)
            let session = try #require(try JSONValue(parsing: opened.body)["sessionId"]?.stringValue)
            let code = #"{"code": "import os\nkey = open('signing.key', 'rb').read().hex()"}"#
            let refused = try await call(server.base, "POST", "/sessions/\(session)/execute", body: code, token: reader)
            #expect(refused.status == 403 && !refused.body.contains("key"), "\(refused)")
            #expect(try await call(server.base, "GET", "/snapshots", token: reader).status == 403)
        }
    }

    @Test("a service name belongs to whoever first published it: no one else adds versions (Owners excepted); versions are changed by their publisher")
    func nameOwnership() async throws {
        try await withServer(python: true) { server in
            try await server.server.users.add("alice", password: "Pass123!", role: .contributor, iterations: 1000)
            let (alice, carol, admin) = (try await server.token("alice"), try await server.token("carol"), try await server.token("admin"))
            let publish = #"{"runtimeType": "Python", "code": "y = x", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(server.base, "POST", "/services/alsvc/1.0", body: publish, token: alice).status == 201)
            let squat = try await call(server.base, "POST", "/services/alsvc/1.1", body: publish, token: carol)
            #expect(squat.status == 403 && squat.body.contains("belongs to alice"), "\(squat)")
            #expect(try await call(server.base, "POST", "/services/alsvc", body: publish, token: carol).status == 403, "a generated version too")
            let form = "--b\r\nContent-Disposition: form-data; name=\"model\"; filename=\"model\"\r\n\r\nnot a model\r\n--b--\r\n"
            var realtime = URLRequest(url: server.base.appendingPathComponent("realtime-services/alsvc/2.0"))
            realtime.httpMethod = "POST"
            realtime.setValue("multipart/form-data; boundary=b", forHTTPHeaderField: "Content-Type")
            realtime.setValue("Bearer " + carol, forHTTPHeaderField: "Authorization")
            realtime.httpBody = Data(form.utf8)
            let (_, realtimeAnswer) = try await URLSession.shared.data(for: realtime)
            #expect((realtimeAnswer as? HTTPURLResponse)?.statusCode == 403, "a realtime version under alice's name")
            #expect(try await server.client.listServices("alsvc").map(\.version) == ["1.0"], "nothing was added")
            #expect(try await call(server.base, "PATCH", "/services/alsvc/1.0", body: #"{"description": "mine now"}"#, token: carol).status == 403)
            #expect(try await call(server.base, "POST", "/services/alsvc/1.1", body: publish, token: alice).status == 201, "alice adds versions")
            #expect(try await call(server.base, "POST", "/services/alsvc/9.0", body: publish, token: admin).status == 201, "an Owner publishes under any name")
            #expect(try await call(server.base, "DELETE", "/services/alsvc/1.1", token: alice).status == 200, "alice deletes her version")
            #expect(try await call(server.base, "DELETE", "/services/alsvc/9.0", token: alice).status == 403, "but not the Owner's")
        }
    }

    @Test("a batch execution belongs to who started it: others neither list, read nor cancel it (Owners reach all)")
    func batchOwnership() async throws {
        try await withServer(python: true) { server in
            try await server.server.users.add("alice", password: "Pass123!", role: .contributor, iterations: 1000)
            let (alice, reader, admin) = (try await server.token("alice"), try await server.token("rita"), try await server.token("admin"))
            let publish = #"{"runtimeType": "Python", "code": "import time\ntime.sleep(0.3)\ny = x", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(server.base, "POST", "/services/slow/1", body: publish, token: alice).status == 201)
            let started = try await call(server.base, "POST", "/api/slow/1/batch?parallelCount=1", body: #"[{"x": 1}, {"x": 2}, {"x": 3}]"#, token: alice)
            let execution = try #require(try JSONValue(parsing: started.body)["batchExecutionId"]?.stringValue, "\(started)")
            let listed = try await call(server.base, "GET", "/api/slow/1/batch", token: reader)
            #expect(listed.status == 200 && !listed.body.contains(execution), "\(listed)")
            #expect(try await call(server.base, "GET", "/api/slow/1/batch/\(execution)", token: reader).status == 404)
            #expect(try await call(server.base, "GET", "/api/slow/1/batch/\(execution)/0/files", token: reader).status == 404)
            #expect(try await call(server.base, "DELETE", "/api/slow/1/batch/\(execution)", token: reader).status == 404)
            let own = try await call(server.base, "POST", "/api/slow/1/batch", body: #"[{"x": 4}]"#, token: reader)
            let readersOwn = try #require(try JSONValue(parsing: own.body)["batchExecutionId"]?.stringValue)
            #expect(try await call(server.base, "GET", "/api/slow/1/batch/\(readersOwn)", token: reader).status == 200, "a Reader reaches its own batch")
            #expect(try await call(server.base, "GET", "/api/slow/1/batch", token: alice).body.contains(readersOwn) == false)
            let everything = try await call(server.base, "GET", "/api/slow/1/batch", token: admin).body
            #expect(everything.contains(execution) && everything.contains(readersOwn), "an Owner lists all: \(everything)")
            #expect(try await call(server.base, "GET", "/api/slow/1/batch/\(execution)", token: alice).status == 200)
            #expect(try await call(server.base, "DELETE", "/api/slow/1/batch/\(execution)", token: admin).status == 200, "an Owner cancels any")
        }
    }

    @Test("tokens die with their account: a user removed and added again does not revive old access or refresh tokens; an access token can be revoked")
    func tokensBoundToAccounts() async throws {
        try await withServer { server in
            try await server.server.users.add("bob", password: "Pass123!", role: .reader, iterations: 1000)
            let login = try await call(server.base, "POST", "/login", body: #"{"username": "bob", "password": "Pass123!"}"#)
            let grant = try JSONValue(parsing: login.body)
            let (access, refresh) = (try #require(grant["access_token"]?.stringValue), try #require(grant["refresh_token"]?.stringValue))
            #expect(try await call(server.base, "GET", "/services", token: access).status == 200)
            try await server.server.users.remove("bob")
            try await server.server.users.add("bob", password: "Other-Pass-1", role: .owner, iterations: 1000)
            #expect(try await call(server.base, "GET", "/services", token: access).status == 401, "the old account's access token is dead, even with the name back as an Owner")
            #expect(try await call(server.base, "POST", "/login/refreshToken", body: #"{"refreshToken": "\#(refresh)"}"#).status == 401, "and so is its refresh token")

            let fresh = try await server.token("carol")
            #expect(try await call(server.base, "DELETE", "/login/accessToken", token: fresh).status == 200)
            #expect(try await call(server.base, "GET", "/services", token: fresh).status == 401, "a revoked access token is refused at once")
            #expect(try await call(server.base, "GET", "/services", token: try await server.token("carol")).status == 200, "a new login works")
        }
    }
}
