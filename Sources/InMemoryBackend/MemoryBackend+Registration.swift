import MLDeploy

extension BackendRegistration {
    /// The in-memory backend: registry name `memory`, URI `memory:`.
    ///
    /// ```swift
    /// try BackendRegistry.shared.register(.memory)
    /// let client = try await DeployClient(target: "memory:")
    /// ```
    ///
    /// Each client gets its own empty store. To share one store between clients, create a
    /// ``MemoryBackend`` yourself and pass it with `DeployTarget.backend(_:)`.
    public static var memory: BackendRegistration {
        BackendRegistration(
            MemoryBackend.self,
            name: "memory",
            uriSchemes: ["memory"],
            summary: "In-process store; runs Swift handlers; the test double with fault injection."
        ).declaringOptions([])
    }
}
