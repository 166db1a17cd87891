import Hummingbird
import MLDeploy

extension MLDeployServer {
    /// `GET /status`: ML Server's `StatusResponse` (spec §3.6.3); 200 as soon as the server is up.
    func addStatusRoutes(to router: Router<ServerRequestContext>) {
        router.get("/status") { _, _ -> Response in
            let backend: JSONValue = [
                "statusCode": "pass", "components": .null,
                "details": [
                    "backend": .string(self.client.configuration.backendName),
                    "capabilities": .string("\(self.client.capabilities)"),
                ],
            ]
            return try Response.json(["statusCode": "pass", "components": ["backends": backend], "details": [:]])
        }
    }
}
