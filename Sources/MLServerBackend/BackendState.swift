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

    /// Whether the backend logs in with a password itself (no session was resumed), so the refresh
    /// token it obtains is its own to revoke at shutdown.
    private let ownsLogin = Mutex(false)

    /// Records whether the refresh token the backend will hold is its own (see ``ownsLogin``).
    func setOwnsLogin(_ owns: Bool) {
        self.ownsLogin.withLock { $0 = owns }
    }

    /// Whether the refresh token is the backend's own to revoke; reading it clears it, so a token is
    /// revoked once.
    func takeOwnsLogin() -> Bool {
        self.ownsLogin.withLock { owns in
            defer { owns = false }
            return owns
        }
    }
}
