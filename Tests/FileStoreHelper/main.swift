// A separate process that writes to a file store, for the crash and concurrency tests:
//
//   filestore-helper ROOT deploy NAME VERSION DESCRIPTION PAYLOAD [--wait]
//   filestore-helper ROOT redeploy NAME VERSION DESCRIPTION PAYLOAD [--wait]
//   filestore-helper ROOT delete NAME VERSION [--wait]
//   filestore-helper ROOT churn NAME PREFIX COUNT PAYLOAD
//
// Prints "ready" once the store is open; with --wait it then waits for a line on stdin before the
// operation (so a test can kill it mid-write); prints "done" at the end. The PAYLOAD becomes the
// bytes of a pickled object named "model", so blobs are shared between versions with equal payloads.

import FileStoreBackend
import Foundation
import Logging
import MLDeploy

@main
struct FileStoreHelper {
    static func definition(_ name: String, _ version: String, _ description: String, _ payload: String) -> ServiceDefinition {
        ServiceDefinition(
            name: name, version: version, description: description, code: "answer = x",
            models: ["model": .pickled(Data(payload.utf8))], inputs: [.init(name: "x", type: .integer)],
            outputs: [.init(name: "answer", type: .integer)]
        )
    }

    /// Writes a line to stdout at once (unbuffered, so the test sees it before a kill).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let wait = arguments.last == "--wait"
        if wait { arguments.removeLast() }
        let store = FileStore(root: arguments[0], python: nil)
        try await store.initialize(context: BackendContext(configuration: BackendConfiguration(backendName: "filesystem"), logger: .init(label: "helper")))
        Self.say("ready")
        if wait { _ = readLine() }
        switch arguments[1] {
        case "deploy":
            _ = try await store.deployService(Self.definition(arguments[2], arguments[3], arguments[4], arguments[5]))
        case "redeploy":
            _ = try await store.redeployService(Self.definition(arguments[2], arguments[3], arguments[4], arguments[5]))
        case "delete":
            try await store.deleteService(arguments[2], version: arguments[3])
        case "churn":
            let (name, prefix, count, payload) = (arguments[2], arguments[3], Int(arguments[4])!, arguments[5])
            for index in 0..<count {
                _ = try await store.deployService(Self.definition(name, "\(prefix)-\(index)", "churn", payload))
                if index % 4 == 3 {
                    try await store.deleteService(name, version: "\(prefix)-\(index - 1)")
                }
            }
        default:
            fatalError("unknown operation \(arguments[1])")
        }
        Self.say("done")
    }
}
