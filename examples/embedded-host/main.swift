// An example host application: a platform's own Hummingbird server that serves its own routes and
// mounts MLDeploy under `/ml`, all in one swift-service-lifecycle `ServiceGroup`.
//
//     MLDEPLOY_ADMIN_PASSWORD=… mldeploy-example-host [PORT] [DATA-DIR]
//
// `GET /hello` is the host's; everything under `/ml` is MLDeploy's ML Server API (give the Python
// SDK `http://127.0.0.1:PORT/ml`), its Open Inference Protocol (`/ml/v2/…`) and its metrics
// (`/ml/metrics`). The host's middleware (here: a header on every answer) wraps MLDeploy's routes
// too. SIGINT or SIGTERM stops it gracefully: calls in flight finish, then the Python workers stop.

import FileStoreBackend
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MLDeploy
import MLDeployServer
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The host's own middleware: it marks every answer, MLDeploy's included.
struct PlatformHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[HTTPField.Name("X-Platform")!] = "example-host"
        return response
    }
}

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8080 : 8080
let data = arguments.count > 2 ? arguments[2] : "./host-data"
let logger = Logger(label: "example-host")

try BackendRegistry.shared.register(.filesystem)
// The host owns the client: MLDeploy's service shuts it down (workers, models) once the HTTP
// server has finished the calls in flight.
let client = try await DeployClient(target: DeployTarget("file:\(data)/services"))
var configuration = ServerConfiguration()
configuration.dataDirectory = data
let server = try MLDeployServer(client: client, configuration: configuration)
if let password = ProcessInfo.processInfo.environment["MLDEPLOY_ADMIN_PASSWORD"] {
    _ = try await server.users.add("admin", password: password, role: .owner, onlyIfNoUsers: true)
}

let router = Router()
router.add(middleware: PlatformHeaderMiddleware())
router.get("/hello") { _, _ in "hello from the platform\n" }
server.mount(on: router, at: "/ml")

let bound = Mutex<Int?>(nil)
let application = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "example-host"),
    onServerRunning: { channel in
        let port = channel.localAddress?.port ?? 0
        bound.withLock { $0 = port }
        print("example host: listening on http://127.0.0.1:\(port) (MLDeploy under /ml)")
        fflush(nil)
    },
    logger: logger
)
// MLDeploy's service first: the group stops services in reverse order, so the HTTP server drains
// before MLDeploy's workers stop.
let mldeploy = MLDeployServerService(server: server) { bound.withLock { $0 }.map { "http://127.0.0.1:\($0)/ml/" } }
try await ServiceGroup(configuration: .init(services: [mldeploy, application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
