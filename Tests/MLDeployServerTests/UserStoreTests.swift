import Foundation
import MLDeploy
import MLDeployServer
import Testing

@Suite("Server users")
struct UserStoreTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mldeploy-users-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("passwords are checked against salted PBKDF2 hashes kept in an owner-only file; no password is stored")
    func passwords() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try UserStore(directory: directory)
        #expect(await store.isEmpty)
        try await store.add("admin", password: "Pass123!", role: .owner)
        try await store.add("reader", password: "Pass123!", role: .reader, iterations: 1000)
        #expect(await store.authenticate(name: "admin", password: "Pass123!") == .owner)
        #expect(await store.authenticate(name: "admin", password: "pass123!") == nil)
        #expect(await store.authenticate(name: "nobody", password: "Pass123!") == nil)
        #expect(await store.authenticate(name: "reader", password: "Pass123!") == .reader)

        let file = try String(contentsOfFile: directory + "/users.json", encoding: .utf8)
        #expect(!file.contains("Pass123!"))
        let json = try JSONValue(parsing: file)
        let salts = (json["users"]?.arrayValue ?? []).compactMap { $0["salt"]?.stringValue }
        #expect(salts.count == 2 && Set(salts).count == 2, "each user has its own salt")
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/users.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Another instance (the CLI beside a running server) sees the same users and their changes.
        let other = try UserStore(directory: directory)
        let before = try #require(try await store.lookup("reader"))
        #expect(before.role == .reader)
        try await other.setRole("reader", .contributor)
        #expect(await store.role(of: "reader") == .contributor)
        #expect(try await store.lookup("reader")?.role == .contributor, "an account looked up before is read again once it changed")
        #expect(try await store.lookup("reader")?.id == before.id)
        try await other.remove("reader")
        #expect(try await store.list().map(\.name) == ["admin"])
    }

    @Test("bad names, empty passwords, duplicates and a malformed file are clear errors")
    func refusals() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try UserStore(directory: directory)
        for name in ["", "a b", "../x", String(repeating: "n", count: 129)] {
            await #expect { try await store.add(name, password: "p", role: .reader, iterations: 1) } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
        }
        await #expect { try await store.add("x", password: "", role: .reader, iterations: 1) } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
        try await store.add("x", password: "p", role: .reader, iterations: 1)
        await #expect { try await store.add("x", password: "q", role: .owner, iterations: 1) } throws: { ($0 as? MLDeployError)?.code == .conflict }
        await #expect { try await store.remove("y") } throws: { ($0 as? MLDeployError)?.code == .notFound }
        try Data("{oops".utf8).write(to: URL(fileURLWithPath: directory + "/users.json"))
        await #expect { try await UserStore(directory: directory).list() } throws: { ($0 as? MLDeployError)?.code == .storageFailure && "\($0)".contains("malformed") }
    }

    @Test("roles allow what ML Server's do")
    func roles() {
        #expect(ServerRole.owner.canPublish && ServerRole.contributor.canPublish && !ServerRole.reader.canPublish)
        #expect(ServerRole.owner.canChange(serviceOf: "alice", as: "bob"))
        #expect(ServerRole.contributor.canChange(serviceOf: "bob", as: "bob"))
        #expect(!ServerRole.contributor.canChange(serviceOf: "alice", as: "bob"))
        #expect(!ServerRole.reader.canChange(serviceOf: "bob", as: "bob"))
        #expect(ServerRole(spelling: "CONTRIBUTOR") == .contributor && ServerRole(spelling: "admin") == nil)
    }
}
