import Foundation
import MLDeploy
import MLDeployServer
import Testing

@Suite("Server authentication and roles")
struct ServerAuthTests {
    @Test("login gives an ML Server AccessTokenResponse; a wrong password or unknown user is a 401")
    func login() async throws {
        try await withServer { server in
            let answer = try await call(server.base, "POST", "/login", body: #"{"username": "admin", "password": "Pass123!"}"#)
            #expect(answer.status == 200)
            let json = try JSONValue(parsing: answer.body)
            #expect(json["token_type"]?.stringValue == "Bearer" && json["expires_in"]?.intValue == 3600)
            #expect(json["access_token"]?.stringValue != nil && json["refresh_token"]?.stringValue != nil && json["expires_on"]?.intValue != nil)
            for body in [#"{"username": "admin", "password": "wrong"}"#, #"{"username": "nobody", "password": "Pass123!"}"#] {
                let refused = try await call(server.base, "POST", "/login", body: body)
                let error = try JSONValue(parsing: refused.body)
                #expect(refused.status == 401)
                #expect(!refused.body.contains("Pass123!") && error["message"] != nil)
            }
            #expect(try await call(server.base, "POST", "/login", body: #"{"user": "admin"}"#).status == 400)
            #expect(try await call(server.base, "POST", "/login", body: "nope").status == 400)
        }
    }

    @Test("every endpoint but login, refresh and status needs a valid, unexpired token of an existing user")
    func tokensRequired() async throws {
        try await withServer { server in
            let paths = [("GET", "/services"), ("GET", "/services/a"), ("GET", "/services/a/1"), ("DELETE", "/services/a/1"), ("POST", "/api/a/1")]
            let expired = try await server.server.issueTokens(for: "admin", now: Date().addingTimeInterval(-7200)).accessToken
            let forged = try await server.token() + "x"
            for (method, path) in paths {
                for token in [nil, "", expired, forged] as [String?] {
                    let answer = try await call(server.base, method, path, body: method == "POST" ? "{}" : nil, token: token)
                    #expect(answer.status == 401, "\(method) \(path) with \(token == nil ? "no token" : "a bad token")")
                }
            }
            #expect(try await call(server.base, "GET", "/status").status == 200)
            // A removed user's token stops working at once.
            let ritasToken = try await server.token("rita")
            #expect(try await call(server.base, "GET", "/services", token: ritasToken).status == 200)
            try await server.server.users.remove("rita")
            #expect(try await call(server.base, "GET", "/services", token: ritasToken).status == 401)
        }
    }

    @Test("refresh tokens renew the pair, are single-use, and can be revoked")
    func refresh() async throws {
        try await withServer { server in
            let login = try JSONValue(parsing: try await call(server.base, "POST", "/login", body: #"{"username": "carol", "password": "Pass123!"}"#).body)
            let refresh = try #require(login["refresh_token"]?.stringValue)
            let renewed = try await call(server.base, "POST", "/login/refreshToken", body: #"{"refreshToken": "\#(refresh)"}"#)
            #expect(renewed.status == 200)
            let pair = try JSONValue(parsing: renewed.body)
            let access = try #require(pair["access_token"]?.stringValue)
            #expect(try await call(server.base, "GET", "/services", token: access).status == 200)
            #expect(try await call(server.base, "POST", "/login/refreshToken", body: #"{"refreshToken": "\#(refresh)"}"#).status == 401, "single use")

            let next = try #require(pair["refresh_token"]?.stringValue)
            let escaped = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await call(server.base, "DELETE", "/login/refreshToken?refreshToken=\(escaped)").status == 200)
            #expect(try await call(server.base, "POST", "/login/refreshToken", body: #"{"refreshToken": "\#(next)"}"#).status == 401, "revoked")
        }
    }

    @Test("roles: a Reader lists and consumes but cannot delete; a Contributor cannot delete another's service; the Owner can")
    func roles() async throws {
        try await withServer { server in
            _ = try await server.client.service("svc").version("1")
                .handler("one") { call in call.outputs["y"] = .integer(1) }.outputs(["y": .integer]).deploy()
            let (reader, contributor, owner) = (try await server.token("rita"), try await server.token("carol"), try await server.token("admin"))
            let listed = try JSONValue(parsing: try await call(server.base, "GET", "/services/svc/1", token: reader).body)
            #expect(listed.arrayValue?.first?["myPermissionOnService"]?.stringValue == "read only")
            #expect(try await call(server.base, "POST", "/api/svc/1", body: "{}", token: reader).status == 200)
            let refused = try await call(server.base, "DELETE", "/services/svc/1", token: reader)
            #expect(refused.status == 403 && refused.body.contains("rita"))
            // The service was published without a user (through the Swift client), so only the Owner
            // and — as for unowned services — Contributors may change it.
            let ownersView = try JSONValue(parsing: try await call(server.base, "GET", "/services/svc/1", token: owner).body)
            #expect(ownersView.arrayValue?.first?["myPermissionOnService"]?.stringValue == "read/write")
            #expect(try await call(server.base, "DELETE", "/services/svc/1", token: contributor).status == 200)
        }
    }
}
