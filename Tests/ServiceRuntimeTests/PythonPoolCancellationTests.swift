import Foundation
import MLDeploy
import ServiceRuntime
import Testing

@Suite("Python pool under cancellation")
struct PythonPoolCancellationTests {
    /// What an HTTP server does when clients disconnect: many callers queue for few workers, and
    /// many of them are cancelled at random moments — waiting, running, or just handed a worker.
    @Test("callers cancelled at random while queued or running never break the pool", .timeLimit(.minutes(2)))
    func cancellationStorm() async throws {
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 2 }) { runtime in
            let service = pythonService(code: "y = x * 2", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            for round in 0..<20 {
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
