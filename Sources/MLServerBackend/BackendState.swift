import Logging
import MLDeploy
import MLDeployHTTP
import Synchronization

/// What ``MLServerBackend`` gets at initialization: its HTTP client and logger.
final class BackendState: Sendable {
    private let storage = Mutex<(http: HTTPClient?, owned: Bool, logger: Logger)>((nil, false, Logger(label: "mldeploy.mlserver")))

    func set(http: HTTPClient, owned: Bool, logger: Logger) {
        self.storage.withLock { $0 = (http, owned, logger) }
    }

    /// Whether the backend made the client itself (and so shuts it down).
    var ownsHTTP: Bool { self.storage.withLock { $0.owned } }

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
