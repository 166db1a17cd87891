import MLDeploy
import MLDeployHTTP

extension BackendRegistration {
    /// The Open Inference Protocol backend: name `oip`, URI schemes `oip+http` and `oip+https`
    /// (`oip+http://HOST:PORT`) — Seldon MLServer, KServe, Triton, or `mldeploy serve`'s `/v2`.
    /// Its clients get an ``MLDeployHTTP/HTTPClient`` from ``MLDeployHTTP/HTTPClientProvider``, so
    /// authentication, retries, proxies and timeouts apply as for every HTTP backend.
    public static var oip: BackendRegistration {
        BackendRegistration(
            OIPBackend.self,
            name: "oip",
            aliases: ["kserve-v2", "open-inference"],
            uriSchemes: ["oip+http", "oip+https"],
            summary: "an Open Inference Protocol (KServe V2) server: Seldon MLServer, KServe, Triton or mldeploy serve",
            contextProviders: [HTTPClientProvider()]
        ).declaringOptions(OIPBackend.knownOptions)
    }
}
