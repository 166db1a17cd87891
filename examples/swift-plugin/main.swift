// mldeploy-backend-wrapped: the Swift example of a backend plugin.
//
// It serves, over the plugin protocol, any backend this executable links — the in-process memory
// store and the file store — so the stock `mldeploy` reaches them through a plugin:
//
//     mldeploy --target wrapped:memory: demo
//     mldeploy --target wrapped:file:./services list
//
// The part after `wrapped:` is an ordinary target URI for the wrapped backend. A plugin of your own
// replaces the factory below with `try MyBackend(configuration: configuration)`.
import FileStoreBackend
import Foundation
import InMemoryBackend
import MLDeploy
import MLDeployPlugin
import ServiceRuntime

// Swift handler services name their handler; a plugin runs the handlers it links.
HandlerRegistry.shared.register(ServiceHandler("add") { call in
    call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b"))
})
HandlerRegistry.shared.register(ServiceHandler("sleep") { call in
    // Waits `seconds`; when the caller gives up first, the cancellation reaches this task, and the
    // handler writes "cancelled" to the file named by the `marker` input.
    do {
        try await Task.sleep(for: .seconds(try call.numeric("seconds")))
        call.outputs["slept"] = .logical(true)
    } catch is CancellationError {
        if let marker = try? call.input("marker").stringValue {
            try? "cancelled".write(toFile: marker, atomically: true, encoding: .utf8)
        }
        throw CancellationError()
    }
})

let wrapped = BackendRegistry()
try wrapped.register(.memory)
try wrapped.register(.filesystem)

try await BackendPlugin.serve(summary: "Serves the memory or file store it wraps (wrapped:memory:, wrapped:file:PATH)") { configuration in
    let inner = configuration.uri?.remainder ?? configuration.options["target"] ?? "memory:"
    guard TargetURI.looksLikeURI(inner), let uri = try? TargetURI(parsing: inner), let registration = wrapped.registration(forScheme: uri.scheme) else {
        throw MLDeployError(code: .invalidTarget, message: "wrapped: needs the target it wraps, e.g. wrapped:memory: or wrapped:file:./services (got '\(inner)').")
    }
    return try registration.makeBackend(BackendConfiguration(backendName: registration.name, uri: uri, options: configuration.options))
}
