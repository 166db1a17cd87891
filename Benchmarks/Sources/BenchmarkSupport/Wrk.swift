import Foundation

/// What one wrk run measured.
public struct WrkResult: Sendable {
    /// Requests per second (NaN when wrk printed none).
    public var rate: Double
    /// Latency percentiles, in milliseconds (NaN when absent).
    public var p50: Double
    public var p99: Double
    /// wrk's whole output, for failures and debugging.
    public var text: String

    /// Whether wrk saw errors: non-2xx answers, socket errors, or no rate at all.
    public var failed: Bool { self.text.contains("Non-2xx") || self.text.contains("Socket errors") || !self.rate.isFinite }
}

/// Runs `wrk --latency` POSTing `body` with `headers` to `url` for `seconds` on `connections`
/// connections (two threads, or one for a single connection).
public func wrkPost(_ url: String, body: String, headers: [String: String], connections: Int, seconds: Int) throws -> WrkResult {
    let script = FileManager.default.temporaryDirectory.appendingPathComponent("wrk-\(UUID().uuidString).lua").path
    var lua = "wrk.method = \"POST\"\nwrk.body = [[\(body)]]\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { lua += "wrk.headers[\"\(name)\"] = \"\(value)\"\n" }
    try lua.write(toFile: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: script) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["wrk", "-t\(min(2, connections))", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script, url]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    func milliseconds(_ label: String) -> Double {
        guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return .nan }
        let value = line.split(separator: " ").last.map(String.init) ?? ""
        if value.hasSuffix("ms") { return Double(value.dropLast(2)) ?? .nan }
        if value.hasSuffix("us") { return (Double(value.dropLast(2)) ?? .nan) / 1000 }
        if value.hasSuffix("s") { return (Double(value.dropLast(1)) ?? .nan) * 1000 }
        return .nan
    }
    let rate = text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? .nan
    return WrkResult(rate: rate, p50: milliseconds("50%"), p99: milliseconds("99%"), text: text)
}
