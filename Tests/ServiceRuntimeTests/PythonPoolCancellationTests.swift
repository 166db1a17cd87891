import Foundation
import MLDeploy
import ServiceRuntime
import Testing

@Suite("Python pool under cancellation")
struct PythonPoolCancellationTests {
    /// What an HTTP server does when clients disconnect: many callers queue for few workers, and
    /// many of them are cancelled at random moments — waiting, running, or just handed a worker.
    /// Each cancelled running call costs a worker respawn, so under the whole suite's load the
    /// storm takes a minute or two; the limit is there to catch a hang, not to time it.
    @Test("callers cancelled at random while queued or running never break the pool", .timeLimit(.minutes(5)))
    func cancellationStorm() async throws {
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 2 }) { runtime in
            let service = pythonService(code: "y = x * 2", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            for round in 0..<12 {
                let tasks = (0..<16).map { index in
                    Task { try await runtime.run(service, inputs: ["x": .integer(index)]) }
                }
                try await Task.sleep(for: .microseconds(Int.random(in: 0...3000)))
                for (index, task) in tasks.enumerated() where (index + round) % 2 == 0 { task.cancel() }
                for (index, task) in tasks.enumerated() {
                    let outcome = await task.result
                    if case .success(let response) = outcome { #expect(response.output("y") == .integer(index * 2)) }
                }
            }
            // Still serving, with no worker leaked past the limit.
            let response = try await runtime.run(service, inputs: ["x": 21])
            #expect(response.output("y") == 42)
            let status = await runtime.status()
            #expect(status.workers <= 2 && status.versions.allSatisfy { $0.queued == 0 })
        }
    }
}

@Suite("Python pool under load")
struct PythonPoolQueueTests {
    @Test("a call that waits longer than the queue bound for a busy version's worker fails as overloaded, having run nothing")
    func boundedWait() async throws {
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 1; $0.maximumQueueWait = .seconds(1) }) { runtime in
            let service = pythonService(code: "import time\ntime.sleep(x)\ny = x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            _ = try await runtime.run(service, inputs: ["x": 0])  // the worker is up
            let busy = Task { try await runtime.run(service, inputs: ["x": 30]) }
            while await runtime.status().versions.first?.busy != 1 { try await Task.sleep(for: .milliseconds(20)) }  // it has the worker
            let started = ContinuousClock.now
            await #expect { try await runtime.run(service, inputs: ["x": 0]) } throws: { ($0 as? MLDeployError)?.code == .overloaded }
            let waited = ContinuousClock.now - started
            // Bounded: it gave up long before the busy call (30 s) would have let go of the worker.
            #expect(waited >= .milliseconds(900) && waited < .seconds(20), "waited \(waited)")
            busy.cancel()  // stops the busy worker
            _ = await busy.result
            #expect(try await runtime.run(service, inputs: ["x": 0]).output("y") == 0, "and the version serves again")
        }
    }

    @Test("session runs count against the Python workers' limit: past it they wait, bounded by the queue wait (overloaded)")
    func sessionRunsCountAgainstPool() async throws {
        try await withPythonRuntime({ $0.maximumWorkers = 1; $0.maximumQueueWait = .seconds(1) }) { runtime in
            let slow = Task { try await runtime.execute(code: "import time\ntime.sleep(4)", workspace: [:]) }
            // Wait until the first run holds the only place.
            while await runtime.status().sessionRuns == 0 { try await Task.sleep(for: .milliseconds(20)) }
            let clock = ContinuousClock(), started = clock.now
            await #expect { try await runtime.execute(code: "x = 1", workspace: [:]) } throws: { error in
                (error as? MLDeployError)?.code == .overloaded
            }
            // Unbounded, it would have waited for the first run and succeeded; it failed after the bound.
            #expect(clock.now - started >= .milliseconds(900))
            #expect(try await slow.value.succeeded)
            #expect(await runtime.status().sessionRuns == 0)
            // With the place free again, a run goes through at once.
            #expect(try await runtime.execute(code: "x = 1", workspace: [:]).succeeded)
        }
    }
}
