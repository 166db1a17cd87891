import Foundation
import MLDeploy
import Testing

/// Encodings checked against the Python SDK's `EncodingType` and a recorded transcript of its requests.
@Suite("Wire encodings of the seven parameter types")
struct WireEncodingTests {
    static let allTypes: [ParameterDefinition] = [
        .init(name: "i", type: .integer), .init(name: "f", type: .numeric), .init(name: "s", type: .character),
        .init(name: "b", type: .logical), .init(name: "v", type: .vector), .init(name: "m", type: .matrix), .init(name: "d", type: .dataFrame),
    ]

    @Test("encodes the AllTypes consume body exactly as the Python SDK did")
    func allTypesBody() throws {
        let values: [String: MLValue] = [
            "i": 1, "f": 2.5, "s": "x", "b": true, "v": [1, 2], "m": .matrix([[1, 2], [3, 4]]),
            "d": .dataFrame(try DataFrame(["a": [1, 2], "b": ["x", "y"]])),
        ]
        var body = JSONObject()
        for definition in Self.allTypes {
            body.append(definition.name, try values[definition.name]!.json(as: definition.type, parameter: definition.name))
        }
        // The transcript, with Python's separators removed.
        let expected = #"{"i":1,"f":2.5,"s":"x","b":true,"v":[1,2],"m":[[1,2],[3,4]],"d":{"a":[1,2],"b":["x","y"]}}"#
        #expect(try JSONValue.object(body).serialized() == expected)
    }

    @Test("sends numeric as a float and integer as an int, as cast_from_python does")
    func casts() throws {
        #expect(try MLValue.integer(120).json(as: .numeric).serialized() == "120.0")
        #expect(try MLValue.numeric(5).json(as: .integer).serialized() == "5")
        #expect(throws: MLDeployError.self) { try MLValue.numeric(2.7).json(as: .integer) }
        #expect(try MLValue.null.json(as: .dataFrame) == .null)
    }

    @Test("decodes the realtime and TxService outputs of the transcript")
    func decodeOutputs() throws {
        let answer = try MLValue(json: try JSONValue(parsing: #"{"am_Pred": [0.533267]}"#), as: .dataFrame, direction: .output)
        #expect(answer.dataFrameValue?.columnNames == ["am_Pred"])
        #expect(answer.dataFrameValue?["am_Pred"] == [.numeric(0.533267)])
        let rows = try MLValue(json: try JSONValue(parsing: #"[{"a": 1, "b": "x"}, {"b": "y", "a": 2}]"#), as: .dataFrame, direction: .output)
        #expect(rows.dataFrameValue == (try DataFrame(["a": [1, 2], "b": ["x", "y"]])))
        #expect(try MLValue(json: .integer(3), as: .numeric, direction: .output) == .numeric(3))
        #expect(try MLValue(json: .double(4), as: .integer, direction: .output) == .integer(4))
        #expect(try MLValue(json: try JSONValue(parsing: "[[1,2],[3,4]]"), as: .matrix, direction: .output) == .matrix([[1, 2], [3, 4]]))
    }

    @Test("refuses wire values of the wrong shape", arguments: [
        ("\"1\"", ParameterType.integer), ("2.5", .integer), ("true", .numeric), ("1", .character), ("1", .logical),
        ("[[1]]", .vector), ("[1, 2]", .matrix), ("[[1, 2], [3]]", .matrix), ("[1]", .dataFrame),
        (#"{"a": [1], "b": [1, 2]}"#, .dataFrame), (#"{"a": 1}"#, .dataFrame),
    ])
    func refusesWrongShapes(text: String, type: ParameterType) throws {
        let json = try JSONValue(parsing: text)
        #expect(throws: MLDeployError.self) { try MLValue(json: json, as: type, direction: .output) }
    }

    @Test("reads every Python type spelling the SDK accepts", arguments: [
        ("int", ParameterType.integer), ("float", .numeric), ("str", .character), ("bool", .logical), ("array", .vector),
        ("numpy.array", .vector), ("list", .vector), ("matrix", .matrix), ("numpy.matrix", .matrix), ("DataFrame", .dataFrame),
        ("pandas.DataFrame", .dataFrame), ("data.frame", .dataFrame), ("integer", .integer), ("numeric", .numeric),
    ])
    func pythonSpellings(spelling: String, type: ParameterType) throws {
        #expect(try ParameterType(parsing: spelling) == type)
    }

    @Test("refuses spellings the Python SDK refuses", arguments: ["ndarray", "numpy.ndarray", "numpy.DataFrame", "Int", "double", "", "tensor"])
    func refusesSpellings(spelling: String) {
        #expect {
            try ParameterType(parsing: spelling)
        } throws: { error in
            (error as? MLDeployError)?.code == .unknownParameterType && "\(error)".contains("pandas.DataFrame")
        }
    }

    @Test("maps types to Python names as to_python does")
    func toPython() {
        #expect(ParameterType.allCases.map(\.pythonName) == ["int", "float", "str", "bool", "numpy.array", "numpy.matrix", "pandas.DataFrame"])
    }

    @Test("reads untyped JSON to the closest value")
    func untyped() throws {
        #expect(MLValue(untypedJSON: try JSONValue(parsing: "[1, 2]")) == .vector([1, 2]))
        #expect(MLValue(untypedJSON: try JSONValue(parsing: "[[1], [2]]")) == .matrix([[1], [2]]))
        #expect(MLValue(untypedJSON: try JSONValue(parsing: #"{"a": [1]}"#)) == .dataFrame(try DataFrame(["a": [1]])))
        #expect(MLValue(untypedJSON: try JSONValue(parsing: #"{"a": {"b": 1}}"#)) == nil)
    }
}

@Suite("DataFrame")
struct DataFrameTests {
    @Test("keeps column order and refuses unequal lengths and repeated names")
    func structure() throws {
        let frame = try DataFrame(["z": [1, nil], "a": ["x", "y"]])
        #expect(frame.columnNames == ["z", "a"])
        #expect(frame.rowCount == 2)
        #expect(frame.row(1) == ["z": .null, "a": "y"])
        #expect(throws: MLDeployError.self) { try DataFrame(["a": [1], "b": [1, 2]]) }
        #expect(throws: MLDeployError.self) { try DataFrame(["a": [1], "a": [2]]) }
        var growing = frame
        #expect(throws: MLDeployError.self) { try growing.append(.init(name: "c", values: [1])) }
        #expect(growing == frame)
    }

    @Test("builds from rows, filling gaps with null")
    func rows() throws {
        let frame = try DataFrame(rows: [["a": 1], ["b": "x"]], columnOrder: ["b", "a"])
        #expect(frame.columnNames == ["b", "a"])
        #expect(frame["a"] == [1, nil])
    }

    @Test("is refused with NaN where it is sent")
    func nan() throws {
        let service = ServiceInfo(name: "s", version: "1", inputs: [.init(name: "d", type: .dataFrame)], runtime: .swift)
        let frame = try DataFrame(["x": [.numeric(.nan)]])
        #expect {
            try service.bindInputs(["d": .dataFrame(frame)])
        } throws: { ($0 as? MLDeployError)?.code == .invalidValue }
    }
}
