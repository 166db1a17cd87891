import Foundation
import MLDeploy
import MLDeployServer
import MLDeployTestSupport
import Testing

/// docs/openapi.yaml checked against the running server by schemathesis, a client nobody here wrote:
/// every status the server answers is documented, schema-valid requests are accepted (except the
/// rules docs/schemathesis.toml lists, which JSON Schema cannot express), schema-violating ones are
/// refused, responses match their schemas, no request makes a 5xx, and undeclared methods get 405.
/// `scripts/bootstrap.sh` makes schemathesis's venv (.venv-schemathesis).
@Suite("OpenAPI document against the server (schemathesis)")
struct SchemathesisTests {
    static var schemathesis: String {
        ProcessInfo.processInfo.environment["MLDEPLOY_SCHEMATHESIS"]
            ?? PythonSDKInteropTests.packageRoot.appendingPathComponent(".venv-schemathesis/bin/st").path
    }

    @Test("schemathesis --checks all finds nothing", .timeLimit(.minutes(10)))
    func checksAll() async throws {
        let st = Self.schemathesis
        try #require(FileManager.default.isExecutableFile(atPath: st), "no schemathesis at \(st): run scripts/bootstrap.sh (or set MLDEPLOY_SCHEMATHESIS)")
        // Fuzzing opens many sessions and calls; the per-user quotas are not what is checked here.
        try await withServer(python: true, configure: { $0.maximumSessionsPerUser = 100_000 }) { server in
            let token = try await server.token()
            // Something to find: a published Python service (fuzzed calls mostly miss it, by design).
            let publish = #"{"code": "y = x", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            #expect(try await call(server.base, "POST", "/services/echo/1", body: publish, token: token).status == 201)
            let root = PythonSDKInteropTests.packageRoot
            let result = try await runToCompletion(
                st,
                [
                    "--config-file", root.appendingPathComponent("docs/schemathesis.toml").path,
                    "run", root.appendingPathComponent("docs/openapi.yaml").path,
                    "--url", server.base.absoluteString, "--checks", "all", "-H", "Authorization: Bearer \(token)",
                    // Revoking the token the whole run uses would turn every later request into a 401.
                    "--exclude-path", "/login/accessToken",
                    "--max-examples", "25", "--seed", "20261130", "--no-color",
                ],
                environment: ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1"]) { _, new in new }
            )
            #expect(result.status == 0, "schemathesis found problems:\n\(result.output.suffix(12_000))")
        }
    }
}
