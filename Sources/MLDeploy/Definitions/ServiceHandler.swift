import Foundation

/// A service written in Swift: the analogue of the Python SDK's `code_fn`.
///
/// The handler receives a ``ServiceCall`` holding the call's inputs (already checked against the input
/// schema), sets outputs on it, may print console output and write artifacts. Throwing makes the call
/// a *failed* ``ServiceResponse`` (like a Python exception), not a thrown error for the caller.
///
/// ```swift
/// let handler = ServiceHandler("manualTransmission") { call in
///     let hp = try call.numeric("hp"), wt = try call.numeric("wt")
///     call.print("scoring hp=\(hp) wt=\(wt)")
///     call.outputs["answer"] = .numeric(hp * wt)
/// }
/// ```
///
/// Handlers run in-process, so only in-process backends (memory; the file store, by name) can run
/// them. A persisted handler is stored by ``name`` and resolved against the handlers registered in the
/// process that loads it.
public struct ServiceHandler: Sendable {
    /// The handler's name. It is the service's default alias and the key a file store persists.
    public let name: String
    private let body: @Sendable (inout ServiceCall) async throws -> Void

    /// Creates a handler.
    ///
    /// - Parameters:
    ///   - name: The handler's name: a Python identifier, since it doubles as the default alias.
    ///   - body: The code run per call.
    public init(_ name: String, _ body: @escaping @Sendable (inout ServiceCall) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the handler on `call`. Runtimes call this; it does no checking of its own.
    public func run(_ call: inout ServiceCall) async throws {
        try await self.body(&call)
    }
}

/// One call of a Swift handler: its inputs in, its outputs, console output and artifacts out.
public struct ServiceCall: Sendable {
    /// The service being called.
    public let service: ServiceInfo
    /// The inputs, checked against the input schema and converted to the declared types.
    public let inputs: [String: MLValue]
    /// The service's objects and models by name (models first, then objects, so an object wins a tie).
    public let objects: [String: ServiceObject]
    /// The outputs the handler sets, by output name. Undeclared names are ignored; declared names left
    /// unset come back as ``MLValue/null``.
    public var outputs: [String: MLValue] = [:]
    /// What the handler printed.
    public private(set) var consoleOutput: String = ""
    /// The artifact files the handler wrote, by file name. Only names the service declares as
    /// artifacts are returned to the caller, as ML Server returns only declared output files.
    public private(set) var artifacts: [String: Data] = [:]

    /// Creates a call. Runtimes create calls; handlers receive them.
    public init(service: ServiceInfo, inputs: [String: MLValue], objects: [String: ServiceObject] = [:]) {
        self.service = service
        self.inputs = inputs
        self.objects = objects
    }

    /// The input `name`.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/inputMismatch``) if the service declares no such input.
    public func input(_ name: String) throws -> MLValue {
        guard let value = self.inputs[name] else {
            throw MLDeployError(code: .inputMismatch, message: "Service '\(self.service.name)' has no input '\(name)'.")
        }
        return value
    }

    /// The input `name` as a double (an `integer` or `numeric` input).
    public func numeric(_ name: String) throws -> Double {
        try self.typed(name, "numeric") { $0.doubleValue }
    }

    /// The input `name` as an integer.
    public func integer(_ name: String) throws -> Int {
        try self.typed(name, "integer") { $0.intValue }
    }

    /// The input `name` as a string.
    public func character(_ name: String) throws -> String {
        try self.typed(name, "character") { $0.stringValue }
    }

    /// The input `name` as a boolean.
    public func logical(_ name: String) throws -> Bool {
        try self.typed(name, "logical") { $0.boolValue }
    }

    /// The input `name` as vector cells.
    public func vector(_ name: String) throws -> [MLScalar] {
        try self.typed(name, "vector") { $0.vectorValue }
    }

    /// The input `name` as matrix rows.
    public func matrix(_ name: String) throws -> [[MLScalar]] {
        try self.typed(name, "matrix") { $0.matrixValue }
    }

    /// The input `name` as a data frame.
    public func dataFrame(_ name: String) throws -> DataFrame {
        try self.typed(name, "data.frame") { $0.dataFrameValue }
    }

    private func typed<T>(_ name: String, _ type: String, _ extract: (MLValue) -> T?) throws -> T {
        let value = try self.input(name)
        guard let typed = extract(value) else {
            throw MLDeployError(
                code: .inputMismatch,
                message: "Input '\(name)' of service '\(self.service.name)' is \(value.shapeDescription), not \(type)."
            )
        }
        return typed
    }

    /// Appends to the console output, like Swift's `print`.
    public mutating func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
        self.consoleOutput += items.map { "\($0)" }.joined(separator: separator) + terminator
    }

    /// Writes an artifact file.
    public mutating func writeArtifact(_ name: String, _ data: Data) {
        self.artifacts[name] = data
    }

    /// Writes an artifact file holding UTF-8 text.
    public mutating func writeArtifact(_ name: String, text: String) {
        self.artifacts[name] = Data(text.utf8)
    }
}

/// A named object or model of a service: the namespace its code sees.
public enum ServiceObject: Sendable, Hashable {
    /// Serialized Python (pickle or dill bytes), opaque to Swift, unpickled by the Python runtime.
    case pickled(Data)
    /// A simple value, materialized as the equivalent Python value by the Python runtime and handed to
    /// Swift handlers as is.
    case value(MLValue)

    /// The value, for ``value(_:)`` objects.
    public var value: MLValue? {
        if case .value(let value) = self { return value }
        return nil
    }
}
