import Foundation
import MLDeploy
import MLDeployServer
import MLDeployTestSupport
import Testing

/// `MLDeployServer.runTasksOnEventLoops()` (`server.executor: event_loops`): every task of the
/// process on NIO's event loop threads.
@Suite("Tasks on the server's event loops")
struct EventLoopExecutorTests {
    /// Set in the child process that runs the check alone: the executor is process-wide and cannot
    /// be undone, so it must not change the executor of the other suites' tests.
    static let alone = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_EVENT_LOOP_EXECUTOR"] != nil

    @Test("the event loops become the task executor (run alone in a child process: it is process-wide)", .enabled(if: !alone), .timeLimit(.minutes(2)))
    func inChildProcess() async throws {
        let child = try await runAloneInChildProcess(filter: "EventLoopExecutorTests/install\\(", environmentKey: "MLDEPLOY_ISOLATED_EVENT_LOOP_EXECUTOR")
        #expect(child.status == 0 && child.output.contains("with 1 test"), "\(child.output)")
    }

    @Test("before: tasks run on Swift's pool; after: on NIO's singleton event loops, a second call changes nothing, and a server answers", .enabled(if: alone), .timeLimit(.minutes(1)))
    func install() async throws {
        #expect(!MLDeployServer.tasksRunOnEventLoops)
        let before = await Task.detached { currentThreadName() }.value
        #expect(!before.hasPrefix("NIO-SGLTN-"), "a task ran on \(before) before the executor was installed")
        #expect(MLDeployServer.runTasksOnEventLoops())
        #expect(MLDeployServer.runTasksOnEventLoops(), "a second call answers as the first")
        #expect(MLDeployServer.tasksRunOnEventLoops)
        let after = await Task.detached { currentThreadName() }.value
        #expect(after.hasPrefix("NIO-SGLTN-"), "a task ran on \(after), not on an event loop")
        try await withServer(python: true) { server in
            let token = try await server.token("admin")
            let publish = #"{"code": "y = x * 2", "runtimeType": "Python", "inputParameterDefinitions": [{"name": "x", "type": "integer"}], "outputParameterDefinitions": [{"name": "y", "type": "integer"}]}"#
            let published = try await call(server.base, "POST", "/services/double/1", body: publish, token: token)
            #expect(published.status == 201, "\(published.body)")
            let answer = try await call(server.base, "POST", "/api/double/1", body: #"{"x": 21}"#, token: token)
            #expect(answer.status == 200 && answer.body.contains("42"), "\(answer.body)")
        }
    }
}

/// The name of the thread the caller runs on (NIO names its singleton loops `NIO-SGLTN-…`), as
/// Linux keeps it.
private func currentThreadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}
