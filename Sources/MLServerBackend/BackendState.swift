import Logging
import MLDeploy
import MLDeployHTTP
import Synchronization

/// What ``MLServerBackend`` gets at initialization: its HTTP client and logger.
final class BackendState: Sendable {
    private let storage = Mutex<(http: HTTPClient?, logger: Logger)>((nil, Logger(label: "mldeploy.mlserver")))

    func set(http: HTTPClient, logger: Logger) {
        self.storage.withLock { $0 = (http, logger) }
    }

    /// The HTTP client, once initialized.
    var http: HTTPClient {
        get throws {
            guard let http = self.storage.withLock({ $0.http }) else {
                throw MLDeployError(code: .clientShutDown, message: "The MLServer backend was not initialized (use it through a DeployClient).")
            }
            return http
        }
    }

    var logger: Logger { self.storage.withLock { $0.logger } }
}
