import MLDeploy
import Synchronization

/// Faults a ``MemoryBackend`` injects on purpose, so code that calls a backend can be tested against
/// failures and slowness without a flaky network.
///
/// ```swift
/// let backend = MemoryBackend()
/// backend.faults.failNext(2, operations: [.consume])                 // the next two consumes fail
/// backend.faults.addLatency(.milliseconds(200), operations: [.deployService])
/// ```
///
/// Faults apply to the backend's operations (``BackendOperation``), before the operation touches the
/// store, so a failed operation never changes anything.
public final class FaultPlan: Sendable {
    private struct Failure {
        var remaining: Int
        let error: MLDeployError
        let operations: Set<BackendOperation>?
    }

    private struct State {
        var failures: [Failure] = []
        var latency: [BackendOperation: Duration] = [:]
        var injected = 0
    }

    private let state = Mutex(State())

    /// A plan with no faults.
    public init() {}

    /// The error injected when none is given: ``MLDeployError/Code/injectedFault``.
    public static let defaultError = MLDeployError(code: .injectedFault, message: "Injected fault (MemoryBackend.faults).")

    /// Makes the next `count` matching operations fail with `error`.
    ///
    /// - Parameters:
    ///   - count: How many operations fail.
    ///   - error: The error they fail with.
    ///   - operations: Which operations count; `nil` means all of them.
    public func failNext(_ count: Int = 1, with error: MLDeployError = FaultPlan.defaultError, operations: Set<BackendOperation>? = nil) {
        guard count > 0 else { return }
        self.state.withLock { $0.failures.append(Failure(remaining: count, error: error, operations: operations)) }
    }

    /// Delays every matching operation by `latency` (replacing an earlier latency for them).
    ///
    /// - Parameters:
    ///   - latency: The delay; `.zero` removes it.
    ///   - operations: Which operations; `nil` means all of them.
    public func addLatency(_ latency: Duration, operations: Set<BackendOperation>? = nil) {
        self.state.withLock { state in
            for operation in operations ?? Set(BackendOperation.allCases) {
                state.latency[operation] = latency == .zero ? nil : latency
            }
        }
    }

    /// Removes every fault.
    public func reset() {
        self.state.withLock { $0 = State() }
    }

    /// How many failures have been injected so far.
    public var injectedCount: Int {
        self.state.withLock { $0.injected }
    }

    /// Applies the plan to one operation: waits out its latency, then throws if a failure is due.
    func apply(_ operation: BackendOperation) async throws {
        let (latency, failure): (Duration?, MLDeployError?) = self.state.withLock { state in
            let latency = state.latency[operation]
            guard let index = state.failures.firstIndex(where: { $0.operations?.contains(operation) ?? true }) else {
                return (latency, nil)
            }
            let error = state.failures[index].error
            state.failures[index].remaining -= 1
            if state.failures[index].remaining == 0 { state.failures.remove(at: index) }
            state.injected += 1
            return (latency, error)
        }
        if let latency { try await Task.sleep(for: latency) }
        if let failure { throw failure }
    }
}
