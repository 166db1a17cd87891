import Foundation
import MLDeploy

/// Sessions `mldeploy login` obtained, by target, in an owner-only file
/// (`~/.config/mldeploy/tokens.json`, mode 0600), so later commands need no password and log in no
/// more: each entry keeps the access token, its expiry, the refresh token that renews it and the
/// user it belongs to.
struct TokenCache {
    let path: String

    init(home: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) {
        self.path = home + "/.config/mldeploy/tokens.json"
    }

    private func entries() throws -> JSONObject {
        guard FileManager.default.fileExists(atPath: self.path) else { return JSONObject() }
        let data = try readFile(self.path, what: "token cache")
        return (try? JSONValue(parsing: data))?.objectValue ?? JSONObject()
    }

    /// The session cached for `target`: while its access token is valid, or after that while it has
    /// a refresh token to renew it.
    func session(for target: String) throws -> AuthSession? {
        guard let entry = try self.entries()[target], let token = entry["token"]?.stringValue else { return nil }
        let expires = entry["expires"]?.doubleValue.map { Date(timeIntervalSince1970: $0) }
        let refreshToken = entry["refreshToken"]?.stringValue
        if let expires, expires < Date(), refreshToken == nil { return nil }
        return AuthSession(accessToken: token, refreshToken: refreshToken, expiresAt: expires, username: entry["user"]?.stringValue)
    }

    /// Stores `session` for `target`.
    func store(_ session: AuthSession, for target: String) throws {
        var entries = try self.entries()
        var entry: JSONObject = ["token": .string(session.accessToken)]
        if let expires = session.expiresAt { entry["expires"] = .double(expires.timeIntervalSince1970) }
        if let refreshToken = session.refreshToken { entry["refreshToken"] = .string(refreshToken) }
        if let user = session.username { entry["user"] = .string(user) }
        entries[target] = .object(entry)
        try self.write(entries)
    }

    /// Forgets `target`'s session and returns it, if there was one.
    @discardableResult
    func remove(_ target: String) throws -> AuthSession? {
        let removed = try self.session(for: target)
        var entries = try self.entries()
        guard entries[target] != nil else { return nil }
        entries[target] = nil
        try self.write(entries)
        return removed
    }

    private func write(_ entries: JSONObject) throws {
        let directory = (self.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = self.path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(try JSONValue.object(entries).serializedBytes()), attributes: [.posixPermissions: 0o600]),
            rename(temporary, self.path) == 0
        else {
            throw MLDeployError(code: .storageFailure, message: "Cannot write the token cache \(self.path): \(String(cString: strerror(errno))).")
        }
    }
}
