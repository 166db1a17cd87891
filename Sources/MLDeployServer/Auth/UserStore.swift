import Dispatch
import Foundation
import MLDeploy
import MLDeployCrypto
import Synchronization

/// The server's users: each a name, a ``ServerRole`` and a password kept only as a salted
/// PBKDF2-HMAC-SHA256 hash (OpenSSL), with its own salt and iteration count so the work factor can
/// rise without resetting passwords.
///
/// They live in the server's ``ServerStateStore``: `users.json` in the data directory (owner-only,
/// replaced atomically, reread when `mldeploy users` changes it while the server runs), or the
/// PostgreSQL database every node shares.
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

    /// Where the users are kept.
    public let store: any ServerStateStore
    /// The last stored bytes seen for each user, with what they decode to (see ``lookup(_:)``).
    private let accounts = Mutex<[String: (bytes: Data, account: (role: ServerRole, id: String))]>([:])

    /// The users of `store`.
    public init(store: any ServerStateStore) {
        self.store = store
    }

    /// The users in `directory/users.json` (absent means no users yet).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` when the directory cannot be made.
    public convenience init(directory: String) throws {
        self.init(store: try LocalServerState(directory: directory))
    }

    /// Every user, sorted by name.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/storageFailure`` for an unreadable or malformed store.
    public func list() async throws -> [User] {
        try await self.store.entries(in: .users, prefix: "").compactMap { entry in
            (try? Self.decode(entry.value)).map { User(name: entry.key, role: $0.role) }
        }
    }

    /// Whether there are no users (a first start creates `admin`).
    public var isEmpty: Bool {
        get async { (try? await self.list().isEmpty) ?? true }
    }

    private func record(_ name: String) async throws -> Record? {
        guard let bytes = try await self.store.value(name, in: .users) else { return nil }
        return try? Self.decode(bytes)
    }

    /// The role of `name`, or `nil` if there is no such user.
    public func role(of name: String) async -> ServerRole? {
        (try? await self.record(name))?.role
    }

    /// Checks a password; returns the user's role, or `nil` for a wrong name or password. Takes the
    /// same time for an unknown name as for a wrong password, so names cannot be probed. The hash
    /// is computed off Swift's cooperative threads (it is deliberately slow).
    public func authenticate(name: String, password: String) async -> ServerRole? {
        try? await self.verify(name: name, password: password)
    }

    /// Checks a password as ``authenticate(name:password:)`` does.
    ///
    /// - Throws: what the store throws when it cannot be read (a database that is down), so a
    ///   server can answer "try again" rather than "wrong password".
    public func verify(name: String, password: String) async throws -> ServerRole? {
        let record = try await self.record(name)
        let salt = record?.salt ?? [UInt8](repeating: 0, count: 16)
        let iterations = record?.iterations ?? Self.defaultIterations
        let derived = await Self.offload { PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations) }
        guard let record, SecureRandom.constantTimeEquals(derived, record.hash) else { return nil }
        return record.role
    }

    /// Adds a user.
    ///
    /// - Parameter onlyIfNoUsers: Add only when the store has no users at all (checked in the same
    ///   transaction): how the first node of several creates the admin once. Returns `false` when
    ///   there were users already.
    /// - Throws: ``MLDeploy/MLDeployError/Code/conflict`` if the name exists;
    ///   ``MLDeploy/MLDeployError/Code/invalidArgument`` for an empty or unsafe name or an empty password.
    @discardableResult
    public func add(_ name: String, password: String, role: ServerRole, iterations: Int = UserStore.defaultIterations, onlyIfNoUsers: Bool = false) async throws -> Bool {
        try Self.checkName(name)
        guard !password.isEmpty else { throw MLDeployError.invalidArgument("The password of '\(name)' must not be empty.") }
        let salt = SecureRandom.bytes(16)
        let hash = await Self.offload { PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations) }
        let record = Record(id: Self.newAccountID(), role: role, salt: salt, iterations: iterations, hash: hash)
        let bytes = Data(try Self.encode(name, record).serializedBytes())
        return try await self.store.transaction { transaction in
            if onlyIfNoUsers, !(try await transaction.sizes(in: .users, prefix: "").isEmpty) { return false }
            guard try await transaction.value(name, in: .users) == nil else {
                throw MLDeployError(code: .conflict, message: "There is already a user named '\(name)'.")
            }
            try await transaction.set(name, bytes, in: .users)
            return true
        }
    }

    /// The user's role and account id, or `nil` when there is no such user (or the store cannot be
    /// read: ``lookup(_:)`` says why).
    public func account(of name: String) async -> (role: ServerRole, id: String)? {
        try? await self.lookup(name)
    }

    /// The user's role and account id, or `nil` when there is no such user.
    ///
    /// - Throws: what the store throws when it cannot be read (a database that is down).
    public func lookup(_ name: String) async throws -> (role: ServerRole, id: String)? {
        guard let bytes = try await self.store.value(name, in: .users) else { return nil }
        // Every authenticated request looks its user up; the stored bytes are read each time (so a
        // change by any node or by `mldeploy users` counts at once), but decoded only when they
        // differ from the last ones seen for that name.
        if let known = self.accounts.withLock({ $0[name] }), known.bytes == bytes { return known.account }
        guard let record = try? Self.decode(bytes) else { return nil }
        let account = (role: record.role, id: record.id)
        self.accounts.withLock { accounts in
            if accounts.count >= 4096 { accounts.removeAll(keepingCapacity: true) }
            accounts[name] = (bytes, account)
        }
        return account
    }

    private static func newAccountID() -> String {
        SecureRandom.bytes(12).map { String(format: "%02x", $0) }.joined()
    }

    /// Removes a user. - Throws: ``MLDeploy/MLDeployError/Code/notFound`` if there is none.
    public func remove(_ name: String) async throws {
        try await self.store.transaction { transaction in
            guard try await transaction.value(name, in: .users) != nil else {
                throw MLDeployError(code: .notFound, message: "There is no user named '\(name)'.")
            }
            try await transaction.remove(name, in: .users)
        }
    }

    /// Changes a user's role. - Throws: ``MLDeploy/MLDeployError/Code/notFound`` if there is none.
    public func setRole(_ name: String, _ role: ServerRole) async throws {
        try await self.store.transaction { transaction in
            guard let bytes = try await transaction.value(name, in: .users), var record = try? Self.decode(bytes) else {
                throw MLDeployError(code: .notFound, message: "There is no user named '\(name)'.")
            }
            record.role = role
            if record.id.isEmpty { record.id = Self.newAccountID() }
            try await transaction.set(name, Data(try Self.encode(name, record).serializedBytes()), in: .users)
        }
    }

    /// Runs blocking work on a dispatch queue, leaving Swift's cooperative threads free.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }

    // MARK: Stored form

    private static func encode(_ name: String, _ record: Record) -> JSONValue {
        [
            "name": .string(name), "id": .string(record.id), "role": .string(record.role.rawValue), "algorithm": "pbkdf2-hmac-sha256",
            "iterations": .integer(record.iterations), "salt": .string(Data(record.salt).base64EncodedString()),
            "hash": .string(Data(record.hash).base64EncodedString()),
        ]
    }

    private static func decode(_ bytes: Data) throws -> Record {
        guard let user = try? JSONValue(parsing: Array(bytes)), let role = user["role"]?.stringValue.flatMap(ServerRole.init(spelling:)),
            user["algorithm"]?.stringValue == "pbkdf2-hmac-sha256", let iterations = user["iterations"]?.intValue, iterations >= 1,
            let salt = user["salt"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
            let hash = user["hash"]?.stringValue.flatMap({ Data(base64Encoded: $0) })
        else {
            throw MLDeployError(code: .storageFailure, message: "A stored user lacks its role, algorithm, iterations, salt or hash; fix it or remove it.")
        }
        return Record(id: user["id"]?.stringValue ?? "", role: role, salt: Array(salt), iterations: iterations, hash: Array(hash))
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
