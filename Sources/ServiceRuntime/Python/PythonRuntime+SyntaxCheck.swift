import Foundation
import MLDeploy
import Subprocess
import SystemPackage

extension PythonRuntime {
    /// Compiles a service's code and init code with the configured interpreter (without running
    /// them), so a syntax error is refused when the service is deployed rather than at its first
    /// call, as ML Server would only report it then.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming which code, the line and
    ///   Python's message; ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` when the
    ///   interpreter cannot be started.
    public func checkSyntax(code: String, initCode: String?, service: String) async throws {
        var sources: [(String, String)] = [("code", code)]
        if let initCode, !initCode.isEmpty { sources.append(("init code", initCode)) }
        // One interpreter for both: each source is compiled under its own name; the first
        // failure is reported as `name<TAB>line<TAB>message<TAB>text`.
        let script = """
            import json, sys
            for name, source in json.load(sys.stdin):
                try:
                    compile(source, name, "exec")
                except SyntaxError as e:
                    print("\\t".join([name, str(e.lineno or 0), str(e.msg), (e.text or "").strip()]))
                    sys.exit(3)
            """
        let payload = try JSONValue.array(sources.map { [.string($0.0), .string($0.1)] }).serialized()
        let executable: Executable =
            self.configuration.interpreter.contains("/") ? .path(FilePath(self.configuration.interpreter)) : .name(self.configuration.interpreter)
        let status: TerminationStatus, output: String, errors: String
        do {
            let result = try await Subprocess.run(
                executable, arguments: ["-c", script], environment: .inherit.updating(["PYTHONDONTWRITEBYTECODE": "1"]),
                input: .string(payload), output: .string(limit: 64 << 10), error: .string(limit: 64 << 10)
            )
            (status, output, errors) = (result.terminationStatus, result.standardOutput ?? "", result.standardError ?? "")
        } catch {
            throw MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "The Python interpreter '\(self.configuration.interpreter)' could not be started to check the code of '\(service)': \(error). Set MLDEPLOY_PYTHON to a Python 3 interpreter."
            )
        }
        switch status {
        case .exited(0):
            return
        case .exited(3):
            let fields = output.trimmingCharacters(in: .newlines).components(separatedBy: "\t")
            let which = fields.first ?? "code", line = fields.count > 1 ? fields[1] : "?", message = fields.count > 2 ? fields[2] : "invalid syntax"
            let text = fields.count > 3 && !fields[3].isEmpty ? " (`\(fields[3])`)" : ""
            throw MLDeployError.invalidArgument("The \(which) of service '\(service)' does not compile: line \(line): \(message)\(text). Fix it and deploy again.")
        default:
            throw MLDeployError(
                code: .pythonRuntimeUnavailable,
                message: "The Python interpreter '\(self.configuration.interpreter)' failed checking the code of '\(service)': \(errors.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
    }
}
