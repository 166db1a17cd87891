import Foundation
import MLDeploy
import Testing

@Suite("DeployClient lifecycle and operations")
struct DeployClientTests {
    @Test("runs initializer, then authentication only when credentials are given, then the destructor")
    func lifecycle() async throws {
        let probe = ProbeBackend()
        let client = try await DeployClient(target: .backend(probe), auth: .password(username: "admin", password: "s3cret"))
        _ = try await client.listServices()
        try await client.shutdown()
        #expect(probe.calls == ["initialize", "authenticate password(user: admin)", "list all", "shutdown"])
        #expect(!probe.calls.joined().contains("s3cret"))

        let plain = ProbeBackend()
        try await withDeployClient(target: .backend(plain)) { _ in }
        #expect(plain.calls == ["initialize", "shutdown"])
    }

    @Test("a failing authentication runs the destructor and throws its error")
    func failedAuthentication() async throws {
        let probe = ProbeBackend(failures: .init(authenticate: MLDeployError(code: .authenticationFailed, message: "bad password")))
        await #expect { try await DeployClient(target: .backend(probe), auth: .accessToken("t")) } throws: {
            ($0 as? MLDeployError)?.code == .authenticationFailed
        }
        #expect(probe.calls == ["initialize", "authenticate accessToken(…)", "shutdown"])
    }

    @Test("a failing initializer still runs the destructor")
    func failedInitializer() async throws {
        let probe = ProbeBackend(failures: .init(initialize: .invalidArgument("no store")))
        await #expect(throws: MLDeployError.self) { try await DeployClient(target: .backend(probe), auth: .accessToken("t")) }
        #expect(probe.calls == ["initialize", "shutdown"])
    }

    @Test("the scoped helper shuts down when the body throws")
    func scopedThrow() async throws {
        let probe = ProbeBackend()
        struct Oops: Error {}
        await #expect(throws: Oops.self) {
            try await withDeployClient(target: .backend(probe)) { _ in throw Oops() }
        }
        #expect(probe.calls.last == "shutdown")
    }

    @Test("refuses features the backend does not declare, before calling it")
    func capabilities() async throws {
        let probe = ProbeBackend(capabilities: [.swiftHandlers])
        try await withDeployClient(target: .backend(probe)) { client in
            await #expect { try await client.service("py").code("answer = 1").deploy() } throws: {
                ($0 as? MLDeployError)?.code == .unsupported && "\($0)".contains("Python services")
            }
            await #expect { try await client.realtimeService("rt").serializedModel(Data([1])).deploy() } throws: {
                ($0 as? MLDeployError)?.code == .unsupported
            }
            let service = try await client.service("s").version("1").handler("h") { _ in }.inputs(["x": .integer]).deploy()
            await #expect { try await service.batch([["x": 1]]) } throws: { ($0 as? MLDeployError)?.code == .unsupported }
            await #expect { try await service.batchExecutions() } throws: { ($0 as? MLDeployError)?.code == .unsupported }
            // Without the swagger capability, the document is generated from the metadata.
            #expect(try await service.swagger()["info"]?["title"] == "s")
        }
        #expect(!probe.calls.contains { $0.hasPrefix("deploy py") || $0.hasPrefix("deploy rt") })
    }

    @Test("checks names and inputs before the backend sees them")
    func validationBeforeBackend() async throws {
        let probe = ProbeBackend()
        try await withDeployClient(target: .backend(probe)) { client in
            await #expect(throws: MLDeployError.self) { try await client.getService("../etc") }
            await #expect(throws: MLDeployError.self) { try await client.listServices(nil, version: "1") }
            let service = try await client.service("s").version("1").handler("h") { _ in }.inputs(["x": .integer]).deploy()
            await #expect(throws: MLDeployError.self) { try await service.consume(["x": "text"]) }
        }
        #expect(probe.calls == ["initialize", "deploy s 1", "shutdown"])
    }

    @Test("redeploy without a version redeploys the latest version")
    func redeployLatest() async throws {
        let probe = ProbeBackend()
        try await withDeployClient(target: .backend(probe)) { client in
            _ = try await client.service("s").version("1").handler("h") { _ in }.deploy()
            _ = try await client.service("s").version("2").handler("h") { _ in }.deploy()
            let updated = try await client.service("s").description("new").redeploy()
            #expect(updated.version == "2")
        }
        #expect(probe.calls.contains("redeploy s 2"))
    }
}
