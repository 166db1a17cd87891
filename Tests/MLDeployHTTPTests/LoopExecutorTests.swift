import Foundation
import MLDeployTestSupport
import MLDeploy
import MLDeployHTTP
import Testing

@Suite("Callers on the client's loop thread (withLoopExecutor)")
struct LoopExecutorTests {
    /// The name of the thread the caller runs on now.
    static var threadName: String { Thread.current.name ?? "" }

    @Test("the caller and its child tasks run on a loop thread, their requests are answered there, and the caller's thread is its own again after")
    func runsOnTheLoop() async throws {
        try await FaultServer.with { server throws in
            var configuration = testConfiguration()
            configuration.loopThreads = 2
            try await withHTTPClient(configuration) { client throws in
                let (names, ports) = try await client.withLoopExecutor {
                    var names: Set<String> = [Self.threadName]
                    var ports: Set<Int> = []
                    for _ in 0..<20 {
                        let response = try await client.send(try HTTPRequest(.get, server.url("/peer")))
                        #expect(response.status == 200)
                        ports.insert(try response.json["port"]?.intValue ?? -1)
                        names.insert(Self.threadName)
                    }
                    // Child tasks inherit the preference: their code runs on the same loop thread.
                    let children = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                        for _ in 0..<8 {
                            group.addTask {
                                let status = try await client.send(try HTTPRequest(.get, server.url("/peer"))).status
                                return (Self.threadName, status)
                            }
                        }
                        return try await group.reduce(into: [(String, Int)]()) { $0.append($1) }
                    }
                    #expect(children.allSatisfy { $0.1 == 200 })
                    names.formUnion(children.map(\.0))
                    return (names, ports)
                }
                #expect(names == ["mldeploy.curl"], "the caller ran on \(names)")
                // One loop, one task's requests in sequence: one connection, kept alive.
                #expect(ports.count == 1 && !ports.contains(-1), "requests used \(ports)")
                #expect(Self.threadName != "mldeploy.curl", "the preference ends with the closure")
            }
        }
    }

    @Test("errors and cancellation reach the caller on the loop as anywhere else")
    func errorsAndCancellation() async throws {
        try await FaultServer.with { server throws in
            try await withHTTPClient(testConfiguration()) { client throws in
                try await client.withLoopExecutor {
                    // A refused connection is a typed error on the loop too.
                    await #expect { try await client.send(try HTTPRequest(.get, "http://127.0.0.1:9/")) } throws: {
                        ($0 as? MLDeployError)?.code == .unreachable
                    }
                    // A slow request cancelled from outside ends promptly, and the loop serves the next one.
                    let slow = Task { try await client.send(try HTTPRequest(.get, server.url("/peer?seconds=60"))) }
                    try await Task.sleep(for: .milliseconds(200))
                    let clock = ContinuousClock(), started = clock.now
                    slow.cancel()
                    await #expect { try await slow.value } throws: { ($0 as? MLDeployError)?.code == .cancelled }
                    // Far under the minute the server holds the answer (loose: the whole suite shares two cores).
                    #expect(clock.now - started < .seconds(30))
                    #expect(try await client.send(try HTTPRequest(.get, server.url("/peer"))).status == 200)
                }
            }
        }
    }

    @Test("a task still preferring the loop when the client shuts down goes on, on the shared pool")
    func outlivesShutdown() async throws {
        try await FaultServer.with { server throws in
            let client = HTTPClient(configuration: testConfiguration())
            let outcome = try await client.withLoopExecutor {
                #expect(try await client.send(try HTTPRequest(.get, server.url("/peer"))).status == 200)
                await client.shutdown()
                // The loop is gone: the task's next steps run elsewhere, and requests are refused.
                try await Task.sleep(for: .milliseconds(10))
                let refused = await #expect(throws: MLDeployError.self) { try await client.send(try HTTPRequest(.get, server.url("/peer"))) }
                return (refused?.code, Self.threadName)
            }
            #expect(outcome.0 == .cancelled)
            #expect(outcome.1 != "mldeploy.curl")
        }
    }
}
