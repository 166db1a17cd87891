import Foundation
import MLDeploy
import MLDeployCrypto
import Synchronization

/// The server's users, in `users.json` in the data directory: each a name, a ``ServerRole`` and a
/// password kept only as a salted PBKDF2-HMAC-SHA256 hash (OpenSSL), with its own salt and
/// iteration count so the work factor can rise without resetting passwords.
///
/// The file is owner-only and replaced atomically. `mldeploy users` edits it while the server is
/// stopped or running: the server rereads it when its modification time changes.
public final class UserStore: Sendable {
    /// The work factor new passwords get (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
    public static let defaultIterations = 600_000

    /// A user as listed: no password material.
    public struct User: Sendable, Hashable {
        /// The user name.
        public let name: String
        /// What the user may do.
        public let role: ServerRole
    }

    struct Record: Sendable {
        /// The account's id, random at creation: tokens carry it, so a name removed and added
        /// again is a new account whose predecessor's tokens do not work (empty for users created
        /// before accounts had ids; such users get one when next changed).
        var id: String
        var role: ServerRole
        var salt: [UInt8]
        var iterations: Int
        var hash: [UInt8]
    }

    /// The file the users are kept in.
    public let path: String
    private let records = Mutex<(records: [String: Record], loadedStamp: FileStamp?)>(([:], nil))

    /// Opens the user file at `directory/users.json` (absent means no users yet).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` for an unreadable or malformed file.
    public init(directory: String) throws {
        self.path = directory + "/users.json"
        try self.reloadIfChanged()
    }

    /// Every user, sorted by name.
    public func list() throws -> [User] {
        try self.reloadIfChanged()
        return self.records.withLock { state in state.records.map { User(name: $0.key, role: $0.value.role) } }.sorted { $0.name < $1.name }
    }

    /// Whether there are no users (a first start creates `admin`).
    public var isEmpty: Bool {
        (try? self.list().isEmpty) ?? true
    }

    /// The role of `name`, or `nil` if there is no such user.
    public func role(of name: String) -> ServerRole? {
        try? self.reloadIfChanged()
        return self.records.withLock { $0.records[name]?.role }
    }

    /// Checks a password; returns the user's role, or `nil` for a wrong name or password. Takes the
    /// same time for an unknown name as for a wrong password, so names cannot be probed.
    public func authenticate(name: String, password: String) -> ServerRole? {
        try? self.reloadIfChanged()
        let record = self.records.withLock { $0.records[name] }
        let salt = record?.salt ?? [UInt8](repeating: 0, count: 16)
        let iterations = record?.iterations ?? Self.defaultIterations
        let derived = PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations)
        guard let record, SecureRandom.constantTimeEquals(derived, record.hash) else { return nil }
        return record.role
    }

    /// Adds a user.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/conflict`` if the name exists;
    ///   ``MLDeploy/MLDeployError/Code/invalidArgument`` for an empty or unsafe name or an empty password.
    public func add(_ name: String, password: String, role: ServerRole, iterations: Int = UserStore.defaultIterations) throws {
        try Self.checkName(name)
        guard !password.isEmpty else { throw MLDeployError.invalidArgument("The password of '\(name)' must not be empty.") }
        let salt = SecureRandom.bytes(16)
        let record = Record(id: Self.newAccountID(), role: role, salt: salt, iterations: iterations, hash: PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations))
        try self.change { records in
            guard records[name] == nil else { throw MLDeployError(code: .conflict, message: "There is already a user named '\(name)'.") }
            records[name] = record
        }
    }

    /// The user's role and account id, or `nil` when there is no such user.
    public func account(of name: String) -> (role: ServerRole, id: String)? {
        try? self.reloadIfChanged()
        return self.records.withLock { $0.records[name].map { ($0.role, $0.id) } }
    }

    private static func newAccountID() -> String {
        SecureRandom.bytes(12).map { String(format: "%02x", $0) }.joined()
    }

    /// Removes a user. - Throws: ``MLDeploy/MLDeployError/Code/notFound`` if there is none.
    public func remove(_ name: String) throws {
        try self.change { records in
            guard records.removeValue(forKey: name) != nil else { throw MLDeployError(code: .notFound, message: "There is no user named '\(name)'.") }
        }
    }

    /// Changes a user's role. - Throws: ``MLDeploy/MLDeployError/Code/notFound`` if there is none.
    public func setRole(_ name: String, _ role: ServerRole) throws {
        try self.change { records in
            guard records[name] != nil else { throw MLDeployError(code: .notFound, message: "There is no user named '\(name)'.") }
            records[name]!.role = role
        }
    }

    // MARK: The file

    private func change(_ body: (inout [String: Record]) throws -> Void) throws {
        try self.reloadIfChanged()
        try self.records.withLock { state in
            var records = state.records
            try body(&records)
            for name in records.keys where records[name]!.id.isEmpty { records[name]!.id = Self.newAccountID() }
            try SecretFile.write(try Self.encode(records).serializedBytes(), to: self.path)
            state.records = records
            state.loadedStamp = FileStamp(self.path)
        }
    }

    private func reloadIfChanged() throws {
        let stamp = FileStamp(self.path)
        guard stamp != self.records.withLock({ $0.loadedStamp }) else { return }
        let records = try SecretFile.read(self.path).map { try Self.decode($0, path: self.path) } ?? [:]
        self.records.withLock { $0 = (records, stamp) }
    }


    private static func encode(_ records: [String: Record]) -> JSONValue {
        let users: [JSONValue] = records.keys.sorted().map { name in
            let record = records[name]!
            return [
                "name": .string(name), "id": .string(record.id), "role": .string(record.role.rawValue), "algorithm": "pbkdf2-hmac-sha256",
                "iterations": .integer(record.iterations), "salt": .string(Data(record.salt).base64EncodedString()),
                "hash": .string(Data(record.hash).base64EncodedString()),
            ]
        }
        return ["format": 1, "users": .array(users)]
    }

    private static func decode(_ bytes: [UInt8], path: String) throws -> [String: Record] {
        func malformed(_ detail: String) -> MLDeployError {
            MLDeployError(code: .storageFailure, message: "The user file \(path) is malformed (\(detail)); fix it or remove it to start over.")
        }
        guard let json = try? JSONValue(parsing: bytes), json["format"]?.intValue == 1, let users = json["users"]?.arrayValue else {
            throw malformed("not a format-1 user file")
        }
        var records: [String: Record] = [:]
        for user in users {
            guard let name = user["name"]?.stringValue, let role = user["role"]?.stringValue.flatMap(ServerRole.init(spelling:)),
                user["algorithm"]?.stringValue == "pbkdf2-hmac-sha256", let iterations = user["iterations"]?.intValue, iterations >= 1,
                let salt = user["salt"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
                let hash = user["hash"]?.stringValue.flatMap({ Data(base64Encoded: $0) })
            else { throw malformed("an entry lacks its name, role, algorithm, iterations, salt or hash") }
            records[name] = Record(id: user["id"]?.stringValue ?? "", role: role, salt: Array(salt), iterations: iterations, hash: Array(hash))
        }
        return records
    }

    static func checkName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x40
        }
        guard !name.isEmpty, name.utf8.count <= 128, allowed else {
            throw MLDeployError.invalidArgument("Invalid user name '\(name)': use 1–128 letters, digits, '-', '_', '.' or '@'.")
        }
    }
}
