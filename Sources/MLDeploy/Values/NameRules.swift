/// The rules service names, versions, parameter names and artifact names must follow.
///
/// Names end up in URL paths (`/services/{name}/{version}`), in file-system paths (the file store) and
/// as Python variable names (parameters), so they are checked before anything is sent or stored:
///
/// - **Service names and versions**: 1–128 characters from `A–Z a–z 0–9 - _ .`, not starting with
///   `.`, never containing `..`. Dots are allowed because ML Server versions look like `v1.2.2`.
/// - **Parameter and object names**: Python identifiers (`[A-Za-z_][A-Za-z0-9_]*`, up to 128).
/// - **Artifact file names**: a plain file name — no `/`, `\`, NUL or control characters, not `.`
///   or `..`, up to 255 bytes.
public enum NameRules {
    /// The longest service name or version accepted.
    public static let maximumNameLength = 128

    /// Checks a service name.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidName``.
    public static func checkServiceName(_ name: String) throws {
        if let problem = Self.problem(with: name) {
            throw MLDeployError(code: .invalidName, message: "Invalid service name \(Self.quoted(name)): \(problem).")
        }
    }

    /// Checks a service version.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidVersion``.
    public static func checkVersion(_ version: String) throws {
        if let problem = Self.problem(with: version) {
            throw MLDeployError(code: .invalidVersion, message: "Invalid service version \(Self.quoted(version)): \(problem).")
        }
    }

    /// Checks that `name` can be bound as a Python variable (inputs, outputs, objects, models).
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidArgument``.
    public static func checkIdentifier(_ name: String, role: String) throws {
        let bytes = Array(name.utf8)
        let valid =
            !bytes.isEmpty && bytes.count <= Self.maximumNameLength
            && !Self.isDigit(bytes[0])
            && bytes.allSatisfy { Self.isLetter($0) || Self.isDigit($0) || $0 == UInt8(ascii: "_") }
        if !valid {
            throw MLDeployError.invalidArgument(
                "Invalid \(role) name \(Self.quoted(name)): use a Python identifier (letters, digits and '_', not starting with a digit, at most \(Self.maximumNameLength) characters)."
            )
        }
    }

    /// Checks an artifact file name.
    ///
    /// - Throws: ``MLDeployError`` with code ``MLDeployError/Code/invalidArgument``.
    public static func checkArtifactName(_ name: String) throws {
        let bytes = Array(name.utf8)
        let problem: String?
        if bytes.isEmpty {
            problem = "it is empty"
        } else if bytes.count > 255 {
            problem = "it is longer than 255 bytes"
        } else if name == "." || name == ".." {
            problem = "it names a directory"
        } else if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) {
            problem = "it contains a path separator or a control character"
        } else {
            problem = nil
        }
        if let problem {
            throw MLDeployError.invalidArgument("Invalid artifact name \(Self.quoted(name)): \(problem). Artifacts are plain file names in the call's working directory.")
        }
    }

    private static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > Self.maximumNameLength { return "it is longer than \(Self.maximumNameLength) characters" }
        var previous: UInt8 = 0
        var doubleDot = false
        for byte in bytes {
            doubleDot = doubleDot || (byte == UInt8(ascii: ".") && previous == UInt8(ascii: "."))
            previous = byte
            let allowed = Self.isLetter(byte) || Self.isDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            if !allowed {
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") { return "it contains a path separator" }
                if byte < 0x20 || byte == 0x7F { return "it contains a control character" }
                return "only letters, digits, '-', '_' and '.' are allowed"
            }
        }
        if bytes[0] == UInt8(ascii: ".") { return "it must not start with '.'" }
        if doubleDot { return "it must not contain '..'" }
        return nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Quotes a name for a message, escaping control characters so they show instead of acting.
    private static func quoted(_ name: String) -> String {
        let shown = name.unicodeScalars.map { scalar -> String in
            scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }.joined()
        return "'\(shown.count > 80 ? String(shown.prefix(80)) + "…" : shown)'"
    }
}
