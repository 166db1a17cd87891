import MLDeploy

extension BackendRegistration {
    /// The PostgreSQL backend: registry name `postgres`, URIs `postgresql://…` and `postgres://…`.
    ///
    /// ```swift
    /// try BackendRegistry.shared.register(.postgres)
    /// let client = try await DeployClient(target: "postgresql://mldeploy@127.0.0.1:5432/mldeploy")
    /// ```
    public static var postgres: BackendRegistration {
        BackendRegistration(
            PostgresBackend.self,
            name: "postgres",
            uriSchemes: ["postgresql", "postgres"],
            summary: "Service versions, code, objects and models in a PostgreSQL database shared by any number of processes; runs services locally."
        ).declaringOptions(["host", "port", "user", "database", "dbname", "sslmode", "password", "password_file", "timeout"])
    }
}
