import Foundation
import MLDeploy

/// Running code in an authoring session (ML Server's `POST /sessions/{id}/execute`): code that builds
/// up a workspace of Python objects step by step, before a snapshot of it is published.
///
/// The session's state is its workspace — pickled objects by name, the same bytes the Python SDK
/// uploads — not a process: each run loads the workspace into a fresh namespace in a short-lived
/// worker, runs the code, and hands back every variable it created or changed, pickled (with `dill`
/// when the interpreter has it, which also keeps imported modules; plain `pickle` otherwise). So a
/// session survives a crashed run, holds no process between runs, and snapshots exactly what later
/// runs would see.
public struct PythonExecution: Sendable {
    /// Whether the code ran to its end (`false`: it raised; the workspace still keeps what it did
    /// before that, as an interactive session would).
    public var succeeded: Bool
    /// The traceback when the code raised, else empty.
    public var errorMessage: String
    /// What the code printed (stdout and stderr).
    public var consoleOutput: String
    /// The requested output parameters, in request order, as JSON: plain values as they are,
    /// numpy and pandas values converted, anything else as its `repr`; `null` when not defined.
    public var outputs: [(name: String, value: JSONValue)]
    /// Workspace objects the code created or changed, pickled.
    public var changedObjects: [String: Data]
    /// Workspace objects the code deleted (`del name`).
    public var removedObjects: [String]
    /// Variables that could not be pickled (and so stay out of the workspace), with the reason.
    public var unpicklable: [String: String]
    /// Files the code left in its working directory (relative paths). The directory is scratch
    /// space: the files are listed, not kept.
    public var changedFiles: [String]
}

extension PythonRuntime {
    /// Runs `code` with the `workspace` objects (pickled bytes) and `inputs` (JSON values, bound by
    /// name) in its namespace, and reports the outputs named in `outputs`.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` when a workspace object cannot be
    ///   unpickled by this interpreter, ``MLDeploy/MLDeployError/Code/timeout`` after the call
    ///   timeout, ``MLDeploy/MLDeployError/Code/workerCrashed``,
    ///   ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable``.
    public func execute(
        code: String,
        workspace: [String: Data],
        inputs: [(name: String, value: JSONValue)] = [],
        outputs: [String] = []
    ) async throws -> PythonExecution {
        var objects: [JSONValue] = []
        var blobs: [[UInt8]] = []
        for (name, bytes) in workspace.sorted(by: { $0.key < $1.key }) {
            objects.append(["name": .string(name), "blob": .integer(blobs.count)])
            blobs.append(Array(bytes))
        }
        let header: JSONObject = [
            "op": "execute", "code": .string(code), "objects": .array(objects),
            "inputs": .array(inputs.map { ["name": .string($0.name), "value": $0.value] }),
            "outputs": .array(outputs.map(JSONValue.string)),
        ]
        let answer = try await self.pool.runOnce { workdir, capture in
            var header = header
            header["workdir"] = .string(workdir.path)
            header["capture"] = .string(capture.path)
            return WorkerFrame(header: header, blobs: blobs)
        }
        let reply = answer.header
        if reply["failed"]?.boolValue == true {
            throw MLDeployError.invalidArgument("The session's workspace could not be loaded:\n\(reply["error"]?.stringValue ?? "")")
        }
        var changed: [String: Data] = [:]
        for object in reply["objects"]?.arrayValue ?? [] {
            guard let name = object["name"]?.stringValue, let index = object["blob"]?.intValue, answer.blobs.indices.contains(index) else { continue }
            changed[name] = Data(answer.blobs[index])
        }
        var unpicklable: [String: String] = [:]
        for entry in reply["skipped"]?.arrayValue ?? [] {
            if let name = entry["name"]?.stringValue { unpicklable[name] = entry["reason"]?.stringValue ?? "" }
        }
        let requested: [(name: String, value: JSONValue)] = (reply["outputs"]?.arrayValue ?? []).map { output in
            (output["name"]?.stringValue ?? "", output["value"] ?? .null)
        }
        let removed: [String] = (reply["removed"]?.arrayValue ?? []).compactMap { $0.stringValue }
        let files: [String] = (reply["files"]?.arrayValue ?? []).compactMap { $0.stringValue }
        return PythonExecution(
            succeeded: reply["ok"]?.boolValue == true,
            errorMessage: reply["error"]?.stringValue ?? "",
            consoleOutput: reply["console"]?.stringValue ?? "",
            outputs: requested,
            changedObjects: changed,
            removedObjects: removed,
            unpicklable: unpicklable,
            changedFiles: files
        )
    }
}
