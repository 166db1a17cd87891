extension ServiceInfo {
    /// Checks a call's inputs against the input schema and converts them to the declared types.
    ///
    /// Every declared input must be present (pass ``MLValue/null`` for "no value"); no undeclared input
    /// may be present; each value must fit its type, with lossless conversions applied (`5` where
    /// `numeric` is declared becomes `5.0`).
    ///
    /// - Returns: The inputs, converted.
    /// - Throws: ``MLDeployError`` with ``MLDeployError/Code/inputMismatch`` naming the offending input,
    ///   or ``MLDeployError/Code/invalidValue`` for NaN, infinity or a ragged matrix.
    public func bindInputs(_ inputs: [String: MLValue]) throws -> [String: MLValue] {
        let declared = Set(self.inputs.map(\.name))
        if let extra = inputs.keys.sorted().first(where: { !declared.contains($0) }) {
            throw MLDeployError(
                code: .inputMismatch,
                message: "Service '\(self.name)' has no input '\(extra)'. Its inputs are: \(self.inputListing)."
            )
        }
        var bound: [String: MLValue] = [:]
        bound.reserveCapacity(self.inputs.count)
        for definition in self.inputs {
            guard let value = inputs[definition.name] else {
                throw MLDeployError(
                    code: .inputMismatch,
                    message: "Missing input '\(definition.name)' (\(definition.type)) for service '\(self.name)'. Its inputs are: \(self.inputListing)."
                )
            }
            do throws(ValueProblem) {
                bound[definition.name] = try value.coerced(to: definition.type)
            } catch {
                throw error.error(parameter: definition.name, direction: .input, service: self.name)
            }
        }
        return bound
    }

    /// Binds positional arguments to the inputs in definition order. See ``bindInputs(_:)``.
    public func bindInputs(positional arguments: [MLValue]) throws -> [String: MLValue] {
        guard arguments.count == self.inputs.count else {
            throw MLDeployError(
                code: .inputMismatch,
                message: "Service '\(self.name)' takes \(self.inputs.count) input(s) (\(self.inputListing)) but \(arguments.count) were given."
            )
        }
        var named: [String: MLValue] = [:]
        for (definition, value) in zip(self.inputs, arguments) {
            named[definition.name] = value
        }
        return try self.bindInputs(named)
    }

    /// Checks a service's outputs against the output schema and converts them to the declared types.
    ///
    /// As ML Server reads outputs back by name, a declared output the service did not produce is
    /// ``MLValue/null`` and an undeclared one is dropped.
    ///
    /// - Throws: ``MLDeployError`` with ``MLDeployError/Code/outputMismatch`` naming the output whose
    ///   value does not fit its type, or ``MLDeployError/Code/invalidValue`` for NaN or infinity.
    public func checkOutputs(_ outputs: [String: MLValue]) throws -> [String: MLValue] {
        var checked: [String: MLValue] = [:]
        checked.reserveCapacity(self.outputs.count)
        for definition in self.outputs {
            let value = outputs[definition.name] ?? .null
            do throws(ValueProblem) {
                checked[definition.name] = try value.coerced(to: definition.type)
            } catch {
                throw error.error(parameter: definition.name, direction: .output, service: self.name)
            }
        }
        return checked
    }

    /// `hp (numeric), wt (numeric)`, or `none`.
    var inputListing: String {
        self.inputs.isEmpty ? "none" : self.inputs.map { "\($0.name) (\($0.type))" }.joined(separator: ", ")
    }
}
