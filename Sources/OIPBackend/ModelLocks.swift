/// One writer at a time per model name. Publishing to Triton reads the model's configuration,
/// adds or removes a version and loads the result: two such changes to one model at once would
/// each load what it read, and the later load would drop the earlier one's version. Waiters are
/// served in arrival order; different models never wait for each other.
actor ModelLocks {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var held: Set<String> = []

    /// Runs `body` while holding `name`'s lock.
    func withLock<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await self.acquire(name)
        defer { self.release(name) }
        return try await body()
    }

    private func acquire(_ name: String) async {
        guard self.held.contains(name) else {
            self.held.insert(name)
            return
        }
        await withCheckedContinuation { self.waiters[name, default: []].append($0) }
    }

    private func release(_ name: String) {
        if var queue = self.waiters[name], !queue.isEmpty {
            let next = queue.removeFirst()
            self.waiters[name] = queue.isEmpty ? nil : queue
            next.resume()  // the lock passes to it: `held` keeps the name
        } else {
            self.held.remove(name)
        }
    }
}
