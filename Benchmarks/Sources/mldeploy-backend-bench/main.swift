// The memory backend served over the plugin protocol, for PluginBenchmark: the same backend the
// benchmark also runs in-process, so the difference is the plugin boundary alone.
import InMemoryBackend
import MLDeploy
import MLDeployPlugin
import ServiceRuntime

HandlerRegistry.shared.register(ServiceHandler("add") { call in
    call.outputs["sum"] = .numeric(try call.numeric("a") + call.numeric("b"))
})
try await BackendPlugin.serve(summary: "The memory backend, for the plugin benchmark") { configuration in try MemoryBackend(configuration: configuration) }
