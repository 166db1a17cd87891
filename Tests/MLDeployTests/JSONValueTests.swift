import Foundation
import MLDeploy
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("keeps object member order through parse and serialize")
    func order() throws {
        let text = #"{"z":1,"a":[true,false,null],"m":{"y":"x","b":2.5}}"#
        let value = try JSONValue(parsing: text)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(try value.serialized() == text)
    }

    @Test("keeps integers and doubles apart", arguments: [
        ("1", JSONValue.integer(1)), ("-0", .integer(0)), ("120.0", .double(120)), ("1e3", .double(1000)),
        ("2.5E-3", .double(0.0025)), ("9223372036854775808", .double(9223372036854775808)),
    ])
    func numbers(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
    }

    @Test("writes doubles as Python's json does", arguments: [
        (120.0, "120.0"), (0.1, "0.1"), (1e-05, "1e-05"), (1e16, "1e+16"), (-2.5, "-2.5"), (0.533267, "0.533267"),
    ])
    func doubles(value: Double, expected: String) throws {
        #expect(try JSONValue.double(value).serialized() == expected)
    }

    @Test("decodes escapes and surrogate pairs")
    func escapes() throws {
        let value = try JSONValue(parsing: #""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\n\té😀"))
        #expect(try JSONValue(parsing: try value.serialized()) == value)
        #expect(try JSONValue.string("\u{1}x").serialized() == #""\u0001x""#)
    }

    @Test("refuses malformed text with its position", arguments: [
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "[1 2]", "01", "1.", "-", "tru", "nul", "\"unterminated",
        "\"bad \\x escape\"", "\"\\ud800\"", "{'single': 1}", "[1] 2", "NaN", "Infinity", "\"raw\ncontrol\"", "1e", "+1",
    ])
    func malformed(text: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            (error as? MLDeployError)?.code == .invalidJSON && "\(error)".contains("byte")
        }
    }

    @Test("refuses nesting deeper than the limit without crashing")
    func depth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: MLDeployError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONValue(parsing: fine) }
    }

    @Test("refuses to serialize NaN or infinity")
    func nonFinite() {
        for number in [Double.nan, .infinity, -.infinity] {
            #expect(throws: MLDeployError.self) { try JSONValue.array([.double(number)]).serialized() }
        }
    }

    @Test("object subscript: last duplicate wins, set appends, nil removes")
    func objectEditing() throws {
        var object = try #require(try JSONValue(parsing: #"{"a":1,"a":2}"#).objectValue)
        #expect(object["a"] == .integer(2))
        object["b"] = "x"
        object["a"] = nil
        #expect(object.keys == ["b"])
    }
}
