import MLDeploy
import MLDeployHTTP

extension BackendRegistration {
    /// The ML Server REST backend: name `MLServer`, alias `azureml.deploy.server.MLServer` (the Python
    /// SDK's class path), URI schemes `mlserver+http` and `mlserver+https`. Its clients get an
    /// ``MLDeployHTTP/HTTPClient`` from ``MLDeployHTTP/HTTPClientProvider``.
    public static var mlServer: BackendRegistration {
        BackendRegistration(
            MLServerBackend.self,
            name: "MLServer",
            aliases: ["azureml.deploy.server.MLServer"],
            uriSchemes: ["mlserver+http", "mlserver+https"],
            summary: "Microsoft Machine Learning Server 9.x, or mldeploy serve, over its REST API",
            contextProviders: [HTTPClientProvider()]
        ).declaringOptions([])
    }
}
