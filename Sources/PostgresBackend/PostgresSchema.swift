import Logging
import MLDeploy
import PostgresNIO

/// The backend's tables, created and migrated by numbered steps.
///
/// Every node runs ``migrate(_:logger:)`` when it starts. The steps run in one transaction under a
/// transaction-level advisory lock, so nodes starting at once apply each step exactly once (the
/// others wait, then find it applied); `mldeploy_schema` records what was applied. A database whose
/// schema is newer than this code is refused rather than written.
package enum PostgresSchema {
    /// The advisory-lock key of schema changes (any fixed 64-bit number; "mldeploy" in ASCII).
    static let migrationLock: Int64 = 0x6D6C_6465_706C_6F79
    /// The advisory-lock key of writes to services and blobs: writes are serialized across every
    /// node, so a blob is never collected while another node commits a version that uses it.
    static let writeLock: Int64 = 0x6D6C_6465_706C_0001
    /// The advisory-lock key of the server state's transactions (``PostgresServerState``).
    package static let stateLock: Int64 = 0x6D6C_6465_706C_0002

    /// The migration steps, in order; step `n` is at index `n - 1`. Never edit a step once released:
    /// add one.
    static let steps: [[PostgresQuery]] = [
        [
            """
            CREATE TABLE mldeploy_versions (
                name text NOT NULL,
                version text NOT NULL,
                sequence bigint NOT NULL,
                revision text NOT NULL,
                manifest text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (name, version)
            )
            """,
            "CREATE INDEX mldeploy_versions_by_sequence ON mldeploy_versions (name, sequence)",
            "CREATE TABLE mldeploy_blobs (hash text PRIMARY KEY, size bigint NOT NULL, parts integer NOT NULL)",
            """
            CREATE TABLE mldeploy_blob_parts (
                hash text NOT NULL REFERENCES mldeploy_blobs (hash) ON DELETE CASCADE,
                part integer NOT NULL,
                bytes bytea NOT NULL,
                PRIMARY KEY (hash, part)
            )
            """,
            """
            CREATE TABLE mldeploy_blob_refs (
                name text NOT NULL,
                version text NOT NULL,
                hash text NOT NULL REFERENCES mldeploy_blobs (hash),
                PRIMARY KEY (name, version, hash),
                FOREIGN KEY (name, version) REFERENCES mldeploy_versions (name, version) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX mldeploy_blob_refs_by_hash ON mldeploy_blob_refs (hash)",
        ],
        [
            // The server's shared state (users, tokens, sessions, snapshots, nodes…), one row per entry.
            """
            CREATE TABLE mldeploy_state (
                collection text NOT NULL,
                key text NOT NULL,
                value bytea NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (collection, key)
            )
            """,
            // Batch executions as a job queue: any node claims a record with FOR UPDATE SKIP LOCKED.
            """
            CREATE TABLE mldeploy_batches (
                id text PRIMARY KEY,
                name text NOT NULL,
                version text NOT NULL,
                total integer NOT NULL,
                parallel integer NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                started_at timestamptz,
                cancelled boolean NOT NULL DEFAULT false
            )
            """,
            "CREATE INDEX mldeploy_batches_by_service ON mldeploy_batches (name, version, created_at)",
            """
            CREATE TABLE mldeploy_batch_records (
                batch text NOT NULL REFERENCES mldeploy_batches (id) ON DELETE CASCADE,
                index integer NOT NULL,
                inputs text NOT NULL,
                result bytea,
                node text,
                PRIMARY KEY (batch, index)
            )
            """,
            "CREATE INDEX mldeploy_batch_records_pending ON mldeploy_batch_records (batch, index) WHERE result IS NULL",
        ],
    ]

    /// The schema version this code writes and reads.
    package static var currentVersion: Int { Self.steps.count }

    /// Brings the database to ``currentVersion``.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/incompatibleStore`` when the database's schema is newer
    ///   than this code; what the database reports otherwise.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS mldeploy_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", logger: logger
            )
            var applied = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM mldeploy_schema", logger: logger).decode(Int.self) {
                applied = version
            }
            guard applied <= Self.currentVersion else {
                throw MLDeployError(
                    code: .incompatibleStore,
                    message: "The database has MLDeploy schema version \(applied); this MLDeploy understands up to \(Self.currentVersion). Upgrade MLDeploy to use it."
                )
            }
            for version in (applied + 1)...max(applied + 1, Self.currentVersion) where version <= Self.currentVersion {
                for statement in Self.steps[version - 1] {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query("INSERT INTO mldeploy_schema (version) VALUES (\(version))", logger: logger)
                logger.info("applied schema step", metadata: ["version": "\(version)"])
            }
        }
    }
}
