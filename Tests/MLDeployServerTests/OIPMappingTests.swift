import Foundation
import MLDeploy
import OpenInference
import Testing

/// The tensor mapping both OIP sides share: values go out and come back as they were.
@Suite("OIP tensor mapping")
struct OIPMappingTests {
    @Test("every parameter type round-trips through tensors, JSON and binary, mixed and missing cells included")
    func roundTrip() throws {
        let info = ServiceInfo(
            name: "echo", version: "1",
            inputs: [
                .init(name: "i", type: .integer), .init(name: "f", type: .numeric), .init(name: "s", type: .character), .init(name: "b", type: .logical),
                .init(name: "v", type: .vector), .init(name: "m", type: .matrix), .init(name: "d", type: .dataFrame), .init(name: "n", type: .numeric),
            ],
            runtime: .python
        )
        let values: [String: MLValue] = [
            "i": .integer(42), "f": .numeric(2.5), "s": .character("héllo \"wörld\"\n"), "b": .logical(true),
            "v": .vector([1, 2.5, "x", true, nil]), "m": .matrix([[1, 2], [3, 4], [5, 6]]),
            "d": .dataFrame(try DataFrame(["z": [1, 2, nil], "a": ["x", "y", "z"], "m": [0.5, true, 3]])), "n": .null,
        ]
        let asOutputs = ServiceInfo(name: "echo", version: "1", outputs: info.inputs, runtime: .python)
        let tensors = OIPServiceMapping.outputs(values, for: asOutputs)
        for binary in [false, true] {
            let (body, length) = try OIPInferenceRequest(inputs: tensors).encoded(binary: binary)
            let parsed = try OIPInferenceRequest(body: body, headerLength: length)
            let back = try OIPServiceMapping.inputs(parsed.inputs, for: info)
            for (name, value) in values {
                #expect(back[name] == value, "\(name) (binary \(binary)): \(String(describing: back[name])) != \(value)")
            }
        }
    }

    @Test("a shape that does not hold its data, an unknown datatype and binary sizes that do not add up are typed errors")
    func badTensors() throws {
        #expect(throws: MLDeployError.self) { try OIPInferenceRequest(body: Array(#"{"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1]}]}"#.utf8)) }
        #expect(throws: MLDeployError.self) { try OIPInferenceRequest(body: Array(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]}"#.utf8)) }
        let head = Array(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "parameters": {"binary_data_size": 8}}]}"#.utf8)
        #expect(throws: MLDeployError.self) { try OIPInferenceRequest(body: head + [0, 0, 0], headerLength: head.count) }
        #expect(throws: MLDeployError.self) { try OIPInferenceRequest(body: head + [UInt8](repeating: 0, count: 9), headerLength: head.count) }
    }
}
