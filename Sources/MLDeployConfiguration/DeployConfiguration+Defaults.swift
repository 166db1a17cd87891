import Foundation
import MLDeployHTTP
import MLDeployPlugin
import ServiceRuntime

extension DeployConfiguration {
    /// What `key` is when nothing sets it, as text (`config show` prints it), or `nil` for a
    /// setting that is simply absent by default (credentials, a proxy list, a CA bundle).
    ///
    /// Read from a default configuration, so the text cannot drift from the values in force.
    public static func defaultValue(of key: String) -> String? {
        let defaults = DeployConfiguration()
        func seconds(_ duration: Duration?) -> String? {
            duration.map { duration in
                let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                return value.rounded() == value ? String(Int(value)) : String(value)
            }
        }
        switch key {
        case "target": return "memory:"
        case "target_options": return "none"
        case "middleware": return "tracing,logging (mldeploy serve: tracing,metrics,logging)"
        case "http.timeout.connect": return seconds(defaults.http.timeout.connect)
        case "http.timeout.control_plane": return seconds(defaults.http.timeout.controlPlane)
        case "http.timeout.consume": return seconds(defaults.http.timeout.consume)
        case "http.retry.attempts": return String(defaults.http.retry.controlPlane.maximumAttempts)
        case "http.loop_threads": return String(defaults.http.loopThreads)
        case "http.proxy": return "environment"
        case "http.tls.verify": return String(defaults.http.tls.verify)
        case "plugins.handshake_timeout": return seconds(defaults.plugins.handshakeTimeout)
        case "plugins.call_timeout": return seconds(defaults.plugins.callTimeout)
        case "runtime.python": return defaults.python.interpreter
        case "runtime.max_workers": return String(defaults.python.maximumWorkers)
        case "runtime.workers_per_version": return String(defaults.python.maximumWorkersPerVersion)
        case "runtime.call_timeout": return seconds(defaults.python.callTimeout)
        case "runtime.memory_limit_mb": return String((defaults.python.memoryLimit ?? 0) >> 20)
        case "runtime.artifact_limit_mb": return String(defaults.python.maximumArtifactSize >> 20)
        case "runtime.queue_wait": return seconds(defaults.python.maximumQueueWait) ?? "0"
        case "runtime.isolation": return defaults.python.isolation.description
        case "runtime.user": return defaults.python.sandboxUser
        case "runtime.network": return defaults.python.network.description
        case "runtime.scratch_mb": return String(defaults.python.scratchSize >> 20)
        case "runtime.max_processes": return String(defaults.python.maximumProcesses)
        case "runtime.realtime_batching": return "off"
        case "server.host": return defaults.server.host
        case "server.port": return String(defaults.server.port)
        case "server.data_dir": return defaults.server.dataDirectory
        case "server.backend": return "file:<server.data_dir>/services"
        case "server.database": return "the data directory (or the served PostgreSQL database)"
        case "server.max_json_mb": return String(defaults.server.maximumJSONBodySize >> 20)
        case "server.max_upload_mb": return String(defaults.server.maximumUploadSize >> 20)
        case "server.idle_timeout": return seconds(defaults.server.idleTimeout)
        case "server.body_timeout": return seconds(defaults.server.bodyReadTimeout)
        case "server.max_connections": return String(defaults.server.maximumConnections)
        case "server.max_sessions": return String(defaults.server.maximumSessionsPerUser)
        case "server.user_quota_mb": return String(defaults.server.userStorageQuota >> 20)
        case "server.max_calls_per_user": return String(defaults.server.maximumCallsPerUser)
        case "server.metrics": return defaults.server.metrics
        case "server.metrics_port": return defaults.server.metricsPort.map(String.init) ?? "the API's port"
        case "server.executor": return defaults.server.executor
        case "server.log_format": return defaults.server.logFormat
        case "server.oidc.role_claim": return "roles"
        case "server.oidc.user_claim": return "preferred_username"
        default: return nil
        }
    }
}
