import Foundation
import Logging
import MLDeploy
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One PostgreSQL database as MLDeploy uses it: a connection pool, a fast check that the server is
/// there, the schema brought up to date on open, and every call bounded by a timeout with the
/// driver's errors turned into MLDeploy's. The PostgreSQL backend and the server's PostgreSQL
/// state share it.
package final class PostgresPool: Sendable {
    /// Where it connects.
    package let settings: PostgresSettings
    /// The pool.
    package let client: PostgresClient
    private let logger: Logger
    private let running = Mutex<Task<Void, Never>?>(nil)
    private let opened = Mutex<Task<Void, any Error>?>(nil)

    /// A pool for `settings` (nothing connects before ``open()``).
    package init(settings: PostgresSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        var configuration: PostgresClient.Configuration
        if settings.isUnixSocket {
            configuration = .init(unixSocketPath: settings.socketPath, username: settings.username, password: settings.password, database: settings.database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch settings.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            configuration = .init(host: settings.host, port: settings.port, username: settings.username, password: settings.password, database: settings.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Connects and brings the schema up to date, once; later calls wait for the first.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unreachable`` when the database cannot be reached or
    ///   refuses the credentials; ``MLDeploy/MLDeployError/Code/incompatibleStore`` for a newer schema.
    package func open() async throws {
        let task = self.opened.withLock { task in
            if let task { return task }
            let started = Task { try await self.connectAndMigrate() }
            task = started
            return started
        }
        do {
            try await task.value
        } catch {
            // A failed open is tried again next time (the database may come up).
            self.opened.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    private func connectAndMigrate() async throws {
        try await self.probe()
        let client = self.client
        self.running.withLock { task in
            if task == nil { task = Task { await client.run() } }
        }
        // Other processes may hold the migration lock for a while (they apply the same steps).
        try await self.run("open", timeout: self.writeTimeout) { try await PostgresSchema.migrate(client, logger: self.logger) }
    }

    /// Closes the pool.
    package func close() async {
        let task = self.running.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// Fails at once (`unreachable`) when nothing listens at the database's address: the connection
    /// pool would otherwise keep retrying until the read timeout.
    private func probe() async throws {
        let settings = self.settings
        if settings.isUnixSocket {
            guard FileManager.default.fileExists(atPath: settings.socketPath) else {
                throw MLDeployError(code: .unreachable, message: "The database \(settings) cannot be reached: there is no socket \(settings.socketPath). Check that PostgreSQL runs.")
            }
            return
        }
        do {
            let channel = try await ClientBootstrap(group: PostgresClient.defaultEventLoopGroup)
                .connectTimeout(.seconds(10))
                .connect(host: settings.host, port: settings.port).get()
            try? await channel.close()
        } catch {
            throw MLDeployError(
                code: .unreachable,
                message: "The database \(settings) cannot be reached: \(error). Check that PostgreSQL runs and listens on \(settings.host):\(settings.port)."
            )
        }
    }

    /// How long a write may take (it may carry large objects): twenty times the read timeout.
    package var writeTimeout: Duration { self.settings.timeout * 20 }

    /// Runs database work within `timeout`, turning the driver's errors into MLDeploy's:
    /// unreachable (connection refused or closed, authentication, the timeout), conflict (a unique
    /// key), storage failure (anything else); errors the work threw itself pass unchanged.
    package func run<T: Sendable>(_ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let settings = self.settings
        let timeout = timeout ?? settings.timeout
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let result = first else {
                    throw MLDeployError(
                        code: .unreachable,
                        message: "The database \(settings) did not answer within \(timeout) (\(what)). Check that PostgreSQL runs and accepts connections; try again later."
                    )
                }
                return result
            }
        } catch {
            // What the work threw itself inside a transaction (a conflict, a quota) passes unchanged.
            if let error = error as? PostgresTransactionError, let inner = error.closureError, !(inner is PSQLError) {
                throw inner
            }
            throw self.translate(error, what: what)
        }
    }

    package func translate(_ error: any Error, what: String) -> MLDeployError {
        switch error {
        case let error as MLDeployError:
            return error
        case let error as PostgresTransactionError:
            // The work's own error, else why BEGIN, COMMIT or ROLLBACK failed.
            if let inner = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError {
                return self.translate(inner, what: what)
            }
            return MLDeployError(code: .storageFailure, message: "The database failed (\(what)): \(error).")
        case let error as PSQLError:
            let state = error.serverInfo?[.sqlState]
            let message = error.serverInfo?[.message] ?? String(describing: error.code)
            if state == "23505" {
                return MLDeployError(code: .conflict, message: "\(what): the row exists already (another process wrote it first).")
            }
            if error.code == .server, state?.hasPrefix("28") != true, state != "3D000", state?.hasPrefix("08") != true, state?.hasPrefix("57P") != true {
                return MLDeployError(code: .storageFailure, message: "The database failed (\(what)): \(message).")
            }
            return MLDeployError(
                code: .unreachable,
                message: "The database \(self.settings) cannot be reached or refused the connection (\(what)): \(message). Check that PostgreSQL runs and the URI's host, port, user, password and database."
            )
        case is CancellationError:
            return MLDeployError(code: .cancelled, message: "The database call was cancelled (\(what)).")
        default:
            return MLDeployError(code: .unreachable, message: "The database \(self.settings) cannot be reached (\(what)): \(error).")
        }
    }

    /// Follows `channel` until cancelled, on one connection of `client`: `subscribed(true)` once
    /// listening, each notification's payload to `received`, `subscribed(false)` when the connection
    /// is lost (notifications may have been missed), then a new subscription a second later.
    package static func follow(
        _ client: PostgresClient, channel: String, logger: Logger,
        subscribed: @escaping @Sendable (Bool) -> Void, received: @escaping @Sendable (String) -> Void
    ) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        subscribed(true)
                        for try await notification in notifications { received(notification.payload) }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.debug("change feed interrupted", metadata: ["channel": "\(channel)", "error": "\(error)"]) }
            }
            subscribed(false)
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
