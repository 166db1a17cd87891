import Foundation
import MLDeploy
import MLDeployONNX
import MLDeployTestSupport
import Testing

/// Models made at test time with scikit-learn and skl2onnx, scored by our engine and by
/// onnxruntime on the same random inputs (`Resources/make_models.py`).
@Suite("ONNX scoring against onnxruntime", .serialized)
struct ONNXScoringTests {
    struct Case: Sendable {
        let name: String
        let model: Data
        let rows: [[Double]]
        /// Named columns (mixed types), instead of `rows`.
        let frame: JSONObject?
        let outputs: JSONObject
    }

    /// Runs the model maker once per process (off the cooperative pool); the directory it wrote.
    static let made = Task<URL, any Error> {
        let directory = try temporaryDirectory("onnx")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/make_models.py").path
        let maker = try await runToCompletion("/usr/bin/env", ["python3", script, directory.path])
        guard maker.status == 0 else {
            throw TestFailure("make_models.py failed (scripts/bootstrap.sh installs scikit-learn, skl2onnx and onnxruntime): \(maker.output)")
        }
        return directory
    }

    /// The scored cases the model maker wrote (`cases.json`).
    static let cases = Task<[Case], any Error> {
        let directory = try await Self.made.value
        let json = try JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("cases.json")))
        return try (json.arrayValue ?? []).map { entry in
            Case(
                name: entry["name"]?.stringValue ?? "?",
                model: try Data(contentsOf: directory.appendingPathComponent(entry["model"]?.stringValue ?? "")),
                rows: (entry["rows"]?.arrayValue ?? []).map { $0.arrayValue?.map { $0.doubleValue ?? .nan } ?? [] },
                frame: entry["frame"]?.objectValue,
                outputs: entry["outputs"]?.objectValue ?? JSONObject()
            )
        }
    }

    /// The frame of a case's inputs: its named columns, or its rows as columns `f0`, `f1`, ….
    static func frame(_ testCase: Case) throws -> DataFrame {
        if let named = testCase.frame {
            return try DataFrame(columns: named.map { member in
                DataFrame.Column(name: member.key, values: (member.value.arrayValue ?? []).map { $0.stringValue.map(MLScalar.character) ?? .numeric($0.doubleValue ?? .nan) })
            })
        }
        let width = testCase.rows.first?.count ?? 0
        return try DataFrame(columns: (0..<width).map { column in
            DataFrame.Column(name: "f\(column)", values: testCase.rows.map { .numeric($0[column]) })
        })
    }

    static let names = [
        "linear_regression", "logistic_binary", "logistic_multiclass", "logistic_text_labels", "scaler_pipeline", "mlp_regressor", "mlp_classifier", "mlp_tanh",
        "decision_tree_regressor", "decision_tree_classifier", "random_forest_regressor", "random_forest_classifier",
        "gradient_boosting_regressor", "gradient_boosting_binary", "gradient_boosting_multiclass",
        "mlp_classifier_opset11", "gradient_boosting_binary_opset9",
        "imputer_pipeline", "categorical_pipeline", "label_encoder",
        "tree_modes_sum", "tree_modes_max", "tree_modes_min", "tree_lt_average", "tree_modes_classifier",
        "softmax_folded_opset11", "softmax_last_axis_newest", "argmax_last_index", "cast_relu_newest",
        "tree_regressor_tensors_v3", "tree_classifier_tensors_v3", "cast_to_integer",
    ]

    @Test("the scikit-learn models are exported with the exporter's defaults, which write opsets beyond 21; the newest opset onnx defines loads")
    func defaultExports() async throws {
        let directory = try await Self.made.value
        let json = try JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("cases.json")))
        let opsets = Dictionary(uniqueKeysWithValues: (json.arrayValue ?? []).compactMap { entry in
            entry["opsets"]?[""]?.intValue.map { (entry["name"]?.stringValue ?? "?", $0) }
        })
        // What made the first-hour failure: skl2onnx's default export of these is opset 22.
        for name in ["linear_regression", "random_forest_regressor", "scaler_pipeline"] {
            #expect((opsets[name] ?? 0) >= 22, "\(name) was exported at opset \(opsets[name] ?? 0)")
        }
        let newest = try await runToCompletion("/usr/bin/env", ["python3", "-c", "import onnx; print(onnx.defs.onnx_opset_version())"])
        let installed = Int(newest.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(installed >= 22 && opsets["cast_relu_newest"] == installed, "the newest opset the installed onnx defines: \(installed)")
        #expect(opsets["mlp_classifier_opset11"] == 11, "one pinned old-opset case stays")
    }

    @Test("inputs a model cannot take are typed errors when scored, never a crash")
    func scoringErrors() async throws {
        let directory = try await Self.made.value
        let errors = try JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("scoring_errors.json"))).arrayValue ?? []
        #expect(errors.count >= 2)
        for entry in errors {
            let model = try ONNXModel(data: try Data(contentsOf: directory.appendingPathComponent(entry["model"]?.stringValue ?? "")))
            let rows = (entry["rows"]?.arrayValue ?? []).map { $0.arrayValue?.map { $0.doubleValue ?? .nan } ?? [] }
            let frame = try DataFrame(columns: (0..<(rows.first?.count ?? 0)).map { column in
                DataFrame.Column(name: "f\(column)", values: rows.map { .numeric($0[column]) })
            })
            let code = entry["code"]?.stringValue ?? "?", phrase = entry["contains"]?.stringValue ?? "?"
            #expect { try model.score(frame) } throws: { error in
                (error as? MLDeployError).map { $0.code.rawValue == code && $0.message.contains(phrase) } ?? false
            }
        }
    }

    @Test("equal to onnxruntime within 1e-5 relative", arguments: names)
    func matchesOnnxruntime(_ name: String) async throws {
        let cases = try await Self.cases.value
        let testCase = try #require(cases.first { $0.name == name })
        let model = try ONNXModel(data: testCase.model)
        let frame = try Self.frame(testCase)
        let scored = try model.score(frame)
        #expect(scored.rowCount == frame.rowCount)
        let columns = Dictionary(uniqueKeysWithValues: scored.columns.map { ($0.name, $0.values) })
        for member in testCase.outputs {
            let expectedRows = member.value["rows"]?.arrayValue ?? []
            let labels = member.value["labels"]?.arrayValue?.compactMap(\.stringValue)
            let perRow = expectedRows.first?.arrayValue?.count ?? 0
            for column in 0..<perRow {
                let columnName = labels.map { "\(member.key)_\($0[column])" } ?? (perRow == 1 ? member.key : "\(member.key)_\(column)")
                let ours = try #require(columns[columnName], "no column \(columnName) in \(scored.columns.map(\.name))")
                for (row, expectedRow) in expectedRows.enumerated() {
                    let expected = expectedRow.arrayValue![column]
                    if let text = expected.stringValue {
                        #expect(ours[row].stringValue == text, "\(name) \(columnName)[\(row)]")
                    } else if let number = expected.doubleValue, let actual = ours[row].doubleValue {
                        let tolerance = max(1e-5 * abs(number), 1e-6)
                        #expect(abs(actual - number) <= tolerance, "\(name) \(columnName)[\(row)]: ours \(actual), onnxruntime \(number)")
                    } else {
                        Issue.record("\(name) \(columnName)[\(row)]: ours \(ours[row]), onnxruntime \(expected)")
                    }
                }
            }
        }
    }

    @Test("one loaded model scores concurrent calls safely: every answer equals the one-at-a-time answer")
    func concurrentScoring() async throws {
        let cases = try await Self.cases.value
        for name in ["random_forest_classifier", "mlp_classifier", "categorical_pipeline"] {
            let testCase = try #require(cases.first { $0.name == name })
            let model = try ONNXModel(data: testCase.model)
            let frame = try Self.frame(testCase)
            // Single rows and the whole frame, each scored alone first.
            let frames = try (0..<frame.rowCount).map { row in
                try DataFrame(columns: frame.columns.map { DataFrame.Column(name: $0.name, values: [$0.values[row]]) })
            } + [frame]
            let expected = try frames.map { try model.score($0) }
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for round in 0..<8 {
                    group.addTask {
                        var wrong = 0
                        for index in frames.indices.shuffled() where try model.score(frames[index]) != expected[index] { wrong += 1 }
                        _ = round
                        return wrong
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0, "\(name): \(mismatches) concurrent answers differed")
        }
    }

    @Test("large frames are split across cores only for models that score rows independently, and the answer equals one call's")
    func rowsAcrossCores() async throws {
        let cases = try await Self.cases.value
        var independent: Set<String> = []
        for testCase in cases {
            let model = try ONNXModel(data: testCase.model)
            if model.scoresRowsIndependently { independent.insert(testCase.name) }
            // The case's rows repeated past four parts' worth (the split takes 256 rows a part).
            let frame = try Self.frame(testCase)
            let repeats = (4 * ONNXModel.rowsPerCore + 100) / max(frame.rowCount, 1) + 1
            let large = try DataFrame(columns: frame.columns.map { column in
                DataFrame.Column(name: column.name, values: Array(repeating: column.values, count: repeats).flatMap { $0 })
            })
            let whole = try model.score(large, cores: 1)
            let split = try model.score(large, cores: 4)
            #expect(split == whole, "\(testCase.name): the split answer differs from one call's")
            #expect(split.rowCount == large.rowCount)
        }
        // What scikit-learn exports (trees, linear models, MLPs, pipelines) keeps rows apart.
        for name in ["random_forest_classifier", "gradient_boosting_regressor", "gradient_boosting_multiclass", "mlp_classifier", "mlp_regressor", "logistic_text_labels", "scaler_pipeline", "categorical_pipeline", "imputer_pipeline"] {
            #expect(independent.contains(name), "\(name) is scored in one call")
        }

        // Graphs that mix rows, or are sized by them, are never split.
        let directory = try temporaryDirectory("onnx-rows")
        defer { try? FileManager.default.removeItem(at: directory) }
        let maker = """
        import sys, onnx
        from onnx import helper, TensorProto
        d = sys.argv[1]
        def save(name, nodes, inputs, outputs):
            graph = helper.make_graph(nodes, name, inputs, outputs)
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "%s/%s.onnx" % (d, name))
        save("concat_rows", [helper.make_node("Concat", ["x", "x"], ["y"], axis=0)],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])])
        save("fixed_batch", [helper.make_node("Relu", ["x"], ["y"])],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])])
        """
        let made = try await runToCompletion("/usr/bin/env", ["python3", "-c", maker, directory.path])
        try #require(made.status == 0, "\(made.output)")
        for name in ["concat_rows", "fixed_batch"] {
            let model = try ONNXModel(data: Data(contentsOf: directory.appendingPathComponent("\(name).onnx")))
            #expect(!model.scoresRowsIndependently, "\(name) would be split")
        }
    }

    @Test("models the engine cannot run are refused at load with a typed error naming what is wrong")
    func refusalsAtLoad() async throws {
        let directory = try await Self.made.value
        let refusals = try JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("refusals.json"))).arrayValue ?? []
        #expect(refusals.count >= 16)
        for refusal in refusals {
            let name = refusal["name"]?.stringValue ?? "?"
            let data = try Data(contentsOf: directory.appendingPathComponent(refusal["model"]?.stringValue ?? ""))
            let code = refusal["code"]?.stringValue ?? "?", phrase = refusal["contains"]?.stringValue ?? "?"
            #expect(throws: MLDeployError.self, "\(name)") { try ONNXModel(data: data) }
            do {
                _ = try ONNXModel(data: data)
            } catch let error as MLDeployError {
                #expect(error.code.rawValue == code && error.message.contains(phrase), "\(name): \(error)")
            }
        }
    }

    @Test("unsupported operators are refused at load, naming them; rx models and garbage are clear errors")
    func refusals() async throws {
        #expect { try ONNXModel(data: Data("blob\u{0}\u{1}rx".utf8)) } throws: { ($0 as? MLDeployError)?.code == .unsupported && "\($0)".contains("RevoScale") }
        #expect { try ONNXModel(data: Data([0xFF, 0xFF, 0xFF])) } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
        #expect { try ONNXModel(data: Data()) } throws: { ($0 as? MLDeployError)?.code == .invalidArgument }
    }
}

@Suite("ONNX model writer")
struct ONNXModelWriterTests {
    @Test("the minimal linear model scores y = x·c + b, and onnxruntime agrees it is a valid model")
    func linearRegressor() async throws {
        let data = ONNXModel.linearRegressor(coefficients: [2, -1], intercept: 0.5)
        let model = try ONNXModel(data: data)
        #expect(model.inputNames == ["input"] && model.outputNames == ["variable"])
        let scored = try model.score(try DataFrame(["a": [.numeric(1), .numeric(3)], "b": [.numeric(4), .numeric(1)]]))
        #expect(scored.columns.map(\.name) == ["variable"] && scored.columns[0].values == [.numeric(-1.5), .numeric(5.5)])

        let file = try temporaryDirectory("onnx-writer").appendingPathComponent("linear.onnx")
        try data.write(to: file)
        let check = try await runToCompletion("/usr/bin/env", ["python3", "-c", "import sys, numpy, onnx, onnxruntime as ort; onnx.checker.check_model(onnx.load(sys.argv[1])); s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider']); print(s.run(None, {'input': numpy.array([[1, 4], [3, 1]], dtype=numpy.float32)})[0].ravel().tolist())", file.path])
        #expect(check.status == 0 && check.output.contains("[-1.5, 5.5]"), "\(check.output)")
    }
}
