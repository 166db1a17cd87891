import Foundation
import MLDeploy

/// Access tokens `mldeploy login` obtained, by target, in an owner-only file
/// (`~/.config/mldeploy/tokens.json`, mode 0600), so later commands need no password.
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

    /// The cached token for `target`, if it has not expired.
    func token(for target: String) throws -> String? {
        guard let entry = try self.entries()[target], let token = entry["token"]?.stringValue else { return nil }
        if let expires = entry["expires"]?.doubleValue, Date(timeIntervalSince1970: expires) < Date() { return nil }
        return token
    }

    /// Stores `token` for `target`.
    func store(_ token: String, expires: Date?, for target: String) throws {
        var entries = try self.entries()
        var entry: JSONObject = ["token": .string(token)]
        if let expires { entry["expires"] = .double(expires.timeIntervalSince1970) }
        entries[target] = .object(entry)
        try self.write(entries)
    }

    /// Forgets `target`'s token; returns whether there was one.
    @discardableResult
    func remove(_ target: String) throws -> Bool {
        var entries = try self.entries()
        guard entries[target] != nil else { return false }
        entries[target] = nil
        try self.write(entries)
        return true
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
