import Foundation
import Logging

/// What the client hands a backend at the *initializer* stage.
///
/// It carries the configuration the backend was created from and a logger. Modules that build on
/// the core (the HTTP layer, for instance) attach further values with typed keys, so the core stays
/// free of them:
///
/// ```swift
/// enum HTTPClientKey: BackendContextKey { typealias Value = HTTPClient }
/// let http = context[HTTPClientKey.self]
/// ```
public struct BackendContext: Sendable {
    /// The configuration the backend was created from.
    public var configuration: BackendConfiguration
    /// The logger the backend should log with (label `mldeploy.backend.<name>`).
    public var logger: Logger
    private var values: [ObjectIdentifier: any Sendable] = [:]

    /// Creates a context.
    public init(configuration: BackendConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The value stored under `key`, if any.
    public subscript<Key: BackendContextKey>(key: Key.Type) -> Key.Value? {
        get { self.values[ObjectIdentifier(key)] as? Key.Value }
        set { self.values[ObjectIdentifier(key)] = newValue }
    }
}

/// A typed key for extra values in a ``BackendContext``.
public protocol BackendContextKey {
    /// The type of the value stored under the key.
    associatedtype Value: Sendable
}

/// How a backend was asked for: a registry name with host and options, or a target URI.
///
/// Backends read what they need: the file store its root path, the ML Server backend its host.
public struct BackendConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The canonical registry name the backend was created under (`"memory"`, `"MLServer"`, …).
    public var backendName: String
    /// The host or base address, when given (`DeployClient(host, use: "MLServer")`).
    public var host: String?
    /// The target URI, when the target was a URI (`file:./services`, `mlserver+http://h:12800`).
    public var uri: TargetURI?
    /// Backend-specific options by key. Values may be secrets: never log them whole.
    public var options: [String: String]

    /// Creates a configuration.
    public init(backendName: String, host: String? = nil, uri: TargetURI? = nil, options: [String: String] = [:]) {
        self.backendName = backendName
        self.host = host
        self.uri = uri
        self.options = options
    }

    /// `name` plus the URI or host, never option values.
    public var description: String {
        var text = self.backendName
        if let uri = self.uri { text += " (\(uri))" } else if let host = self.host { text += " (\(host))" }
        return text
    }
}

/// A parsed target URI: `scheme:rest`, e.g. `file:./services`, `memory:`, `mlserver+https://host`.
public struct TargetURI: Sendable, Hashable, CustomStringConvertible {
    /// The scheme, lower-cased (`file`, `memory`, `mlserver+http`).
    public var scheme: String
    /// Everything after the first `:` (`./services`, ``, `//host:12800`).
    public var remainder: String

    /// Parses `scheme:rest`.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidTarget``) when there is no valid scheme.
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw MLDeployError(code: .invalidTarget, message: "'\(text)' is not a target URI; write scheme:rest, e.g. memory:, file:./services or mlserver+http://localhost:12800.")
        }
        let scheme = String(text[..<colon])
        guard Self.isScheme(scheme) else {
            throw MLDeployError(code: .invalidTarget, message: "'\(scheme)' is not a valid URI scheme in target '\(text)'.")
        }
        self.scheme = scheme.lowercased()
        self.remainder = String(text[text.index(after: colon)...])
    }

    /// Whether `text` starts like a URI (`letter (letter | digit | + | - | .)* :`).
    public static func looksLikeURI(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        return Self.isScheme(String(text[..<colon]))
    }

    private static func isScheme(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) }
    }

    /// The remainder without its query string (`./services` of `file:./services?fsync=false`).
    public var path: String {
        self.remainder.firstIndex(of: "?").map { String(self.remainder[..<$0]) } ?? self.remainder
    }

    /// The query string's `key=value` pairs, percent-decoded: options for the backend
    /// (`oip+http://host:8080?repository=/srv/models`). A key without `=` has the empty value.
    public var queryOptions: [String: String] {
        guard let question = self.remainder.firstIndex(of: "?") else { return [:] }
        var options: [String: String] = [:]
        for pair in self.remainder[self.remainder.index(after: question)...].split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            let key = parts[0].removingPercentEncoding ?? parts[0]
            options[key] = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
        }
        return options
    }

    /// The text after `//` up to the next `/`, for `scheme://authority/...` URIs.
    public var authority: String? {
        guard self.remainder.hasPrefix("//") else { return nil }
        let rest = self.remainder.dropFirst(2)
        return String(rest.prefix { $0 != "/" })
    }

    /// `scheme:rest`.
    public var description: String { "\(self.scheme):\(self.remainder)" }
}
