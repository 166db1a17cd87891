import MLDeploy

extension PythonRuntime {
    /// Compiles a service's code and init code with the configured interpreter (without running
    /// them), so a syntax error is refused when the service is deployed rather than at its first
    /// call, when ML Server would first report it.
    ///
    /// One long-lived worker of the runtime does the compiling, so a deploy pays for a message to
    /// it, not for starting Python (twenty concurrent deploys once started twenty interpreters).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidArgument`` naming which code, the line and
    ///   Python's message; ``MLDeploy/MLDeployError/Code/pythonRuntimeUnavailable`` when the
    ///   interpreter cannot be started.
    public func checkSyntax(code: String, initCode: String?, service: String) async throws {
        var sources: [(String, String)] = [("code", code)]
        if let initCode, !initCode.isEmpty { sources.append(("init code", initCode)) }
        guard let failure = try await self.pool.checkSyntax(sources) else { return }
        let which = failure.first?.stringValue ?? "code", line = failure.count > 1 ? failure[1].intValue ?? 0 : 0
        let message = failure.count > 2 ? failure[2].stringValue ?? "invalid syntax" : "invalid syntax"
        let text = failure.count > 3 ? failure[3].stringValue ?? "" : ""
        throw MLDeployError.invalidArgument(
            "The \(which) of service '\(service)' does not compile: line \(line): \(message)\(text.isEmpty ? "" : " (`\(text)`)"). Fix it and deploy again."
        )
    }
}
