import MLDeploy
import Testing

@Suite("Name rules")
struct NameRulesTests {
    @Test("accepts ML Server's names and versions", arguments: ["TxService", "a", "v1.2.2", "1.0", "my_service-2", "11fe6a84-6ab1-41c9-8e68-84ef86c89e16", String(repeating: "x", count: 128)])
    func valid(name: String) throws {
        try NameRules.checkServiceName(name)
        try NameRules.checkVersion(name)
    }

    @Test("refuses names that could escape a path or break a URL", arguments: [
        "", ".", "..", "../x", "x/..", "a/b", "a\\b", "/abs", "a..b", ".dot", "nul\u{0}", "tab\t", "line\n", "sp ace", "ü", "a?b", "a#b", "a%2f",
        String(repeating: "x", count: 129),
    ])
    func invalid(name: String) {
        #expect { try NameRules.checkServiceName(name) } throws: { ($0 as? MLDeployError)?.code == .invalidName }
        #expect { try NameRules.checkVersion(name) } throws: { ($0 as? MLDeployError)?.code == .invalidVersion }
    }

    @Test("shows control characters escaped in messages")
    func escaped() {
        #expect { try NameRules.checkServiceName("a\u{7}b") } throws: { "\($0)".contains("\\u{7}") }
    }

    @Test("parameter names are Python identifiers", arguments: [("hp", true), ("_x1", true), ("1x", false), ("a-b", false), ("", false), ("é", false)])
    func identifiers(name: String, valid: Bool) {
        #expect(((try? NameRules.checkIdentifier(name, role: "input")) != nil) == valid)
    }

    @Test("artifact names are plain file names", arguments: [("answer.csv", true), (".hidden", true), ("a/b", false), ("..", false), ("x\u{0}", false), ("", false)])
    func artifacts(name: String, valid: Bool) {
        #expect(((try? NameRules.checkArtifactName(name)) != nil) == valid)
    }
}
