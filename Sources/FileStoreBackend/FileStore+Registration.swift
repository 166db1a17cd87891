import MLDeploy

extension BackendRegistration {
    /// The file-system store: registry name `filesystem`, URIs `file:PATH` and `file:///PATH`.
    ///
    /// ```swift
    /// try BackendRegistry.shared.register(.filesystem)
    /// let client = try await DeployClient(target: "file:./services")
    /// ```
    public static var filesystem: BackendRegistration {
        BackendRegistration(
            FileStore.self,
            name: "filesystem",
            uriSchemes: ["file"],
            summary: "Durable store under a root directory; runs Python services and Swift handlers locally."
        ).declaringOptions(["path", "create", "recover", "fsync"])
    }
}
