import MLDeploy
import Testing

@Suite("DataFrame rows in parts")
struct DataFrameRowsTests {
    @Test("a frame cut into row ranges and stacked again is the frame; frames of other columns do not stack")
    func rowsAndStacking() throws {
        let frame = try DataFrame(["a": [1, 2, 3, 4, 5], "b": ["v", "w", "x", "y", "z"]])
        let parts = [frame.rows(0..<2), frame.rows(2..<2), frame.rows(2..<5)]
        #expect(parts.map(\.rowCount) == [2, 0, 3])
        #expect(parts[2]["b"] == ["x", "y", "z"] && parts[0].columnNames == ["a", "b"])
        #expect(try DataFrame.stacking(parts) == frame)
        #expect(try DataFrame.stacking([]) == DataFrame())
        #expect { try DataFrame.stacking([frame, try DataFrame(["b": [1], "a": [2]])]) } throws: {
            ($0 as? MLDeployError)?.code == .invalidValue && "\($0)".contains("Cannot stack")
        }
    }
}
