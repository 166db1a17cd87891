import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PackagePlugin

/// `swift package mldeploy-client --service NAME --version V --url URL --target TARGET`: fetches a
/// deployed service's OpenAPI 3.0 document from an MLDeploy server (`GET
/// /api/{name}/{version}/openapi.json`) into a target of the user's package as `openapi.json`,
/// beside an `openapi-generator-config.yaml` (types and a client), so swift-openapi-generator's
/// build plugin on that target generates a typed client for the service at the next build.
///
/// Signing in: `--token` (or `MLDEPLOY_TOKEN`), else `--username` and `--password` (or
/// `MLDEPLOY_USERNAME` and `MLDEPLOY_PASSWORD`) through the server's `POST /login`.
///
/// SwiftPM asks before the plugin reaches the network or writes into the package; in scripts, pass
/// `--allow-network-connections all --allow-writing-to-package-directory` to `swift package`.
@main
struct MLDeployClientPlugin: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let request = try ClientRequest(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        let targets = try context.package.targets(named: [request.target])
        guard let target = targets.first as? SourceModuleTarget else {
            throw PluginFailure("Target '\(request.target)' has no sources of its own; name a Swift target of this package.")
        }
        let document = try await request.fetchDocument()
        let directory = target.directoryURL
        try document.write(to: directory.appendingPathComponent("openapi.json"), options: .atomic)
        let config = directory.appendingPathComponent("openapi-generator-config.yaml")
        if !FileManager.default.fileExists(atPath: config.path) {
            try Data("generate:\n  - types\n  - client\n".utf8).write(to: config, options: .atomic)
        }
        print("mldeploy-client: wrote \(directory.path)/openapi.json for \(request.service)/\(request.version) from \(request.url)")
        print("mldeploy-client: add swift-openapi-generator's plugin to target '\(request.target)' (plugins: [.plugin(name: \"OpenAPIGenerator\", package: \"swift-openapi-generator\")]) and build")
    }
}

/// The plugin's options, checked before anything is fetched or written.
struct ClientRequest {
    let service: String
    let version: String
    let url: String
    let target: String
    let token: String?
    let username: String?
    let password: String?

    static let usage = "usage: swift package mldeploy-client --service NAME --version V --url URL --target TARGET [--token T | --username U --password P]"

    init(arguments: [String], environment: [String: String]) throws {
        var options: [String: String] = [:]
        var rest = arguments[...]
        let known: Set = ["--service", "--version", "--url", "--target", "--token", "--username", "--password"]
        while let argument = rest.popFirst() {
            var (name, value) = (argument, String?.none)
            if let equals = argument.firstIndex(of: "=") {
                (name, value) = (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
            }
            guard known.contains(name) else { throw PluginFailure("Unknown argument '\(argument)'. \(Self.usage)") }
            guard let given = value ?? rest.popFirst(), !given.isEmpty else { throw PluginFailure("\(name) needs a value. \(Self.usage)") }
            options[name] = given
        }
        for required in ["--service", "--version", "--url", "--target"] where options[required] == nil {
            throw PluginFailure("Missing \(required). \(Self.usage)")
        }
        self.service = options["--service"]!
        self.version = options["--version"]!
        self.target = options["--target"]!
        var url = options["--url"]!
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw PluginFailure("--url must be the server's http(s) address (http://HOST:PORT, with any mount prefix), not '\(url)'.")
        }
        self.url = url
        self.token = options["--token"] ?? environment["MLDEPLOY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        self.username = options["--username"] ?? environment["MLDEPLOY_USERNAME"]
        self.password = options["--password"] ?? environment["MLDEPLOY_PASSWORD"]
        if self.token == nil, (self.username == nil) != (self.password == nil) {
            throw PluginFailure("Give both --username and --password (or MLDEPLOY_USERNAME and MLDEPLOY_PASSWORD), or a --token.")
        }
    }

    /// The service's OpenAPI document, checked to be one.
    func fetchDocument() async throws -> Data {
        var bearer = self.token
        if bearer == nil { bearer = try await self.login() }
        let path = "/api/\(Self.segment(self.service))/\(Self.segment(self.version))/openapi.json"
        var request = URLRequest(url: URL(string: self.url + path)!)
        if let bearer { request.setValue("Bearer " + bearer, forHTTPHeaderField: "Authorization") }
        let (data, status) = try await Self.send(request)
        switch status {
        case 200: break
        case 401: throw PluginFailure("\(self.url) refused the request (401): give --token, or --username and --password.")
        case 404: throw PluginFailure("\(self.url) has no service \(self.service) version \(self.version) (404); `mldeploy list` shows what is deployed.")
        default: throw PluginFailure("\(self.url)\(path) answered \(status): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], object["openapi"] is String, object["paths"] != nil else {
            throw PluginFailure("\(self.url)\(path) did not answer an OpenAPI document; is it an MLDeploy server (mldeploy serve)?")
        }
        return data
    }

    /// An access token from `POST /login`, or `nil` when no credentials were given.
    private func login() async throws -> String? {
        guard let username, let password else { return nil }
        var request = URLRequest(url: URL(string: self.url + "/login")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["username": username, "password": password])
        let (data, status) = try await Self.send(request)
        guard status == 200, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let token = object["access_token"] as? String else {
            throw PluginFailure("Signing in to \(self.url) as '\(username)' failed (\(status)): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        return token
    }

    private static func send(_ request: URLRequest) async throws -> (Data, Int) {
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
        } catch {
            throw PluginFailure("Cannot reach \(request.url?.absoluteString ?? "the server"): \(error.localizedDescription). Is the server running, and was the plugin allowed network connections?")
        }
    }

    /// A path segment, percent-encoded.
    private static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// What went wrong, in words for the person who ran the command.
struct PluginFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
