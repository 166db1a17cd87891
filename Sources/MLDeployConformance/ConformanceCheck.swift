import MLDeploy

/// One behaviour every backend must have, checked against a real instance of it.
///
/// Run all of them with ``BackendConformance/run(_:)``, or one per test case with Swift Testing's
/// parameterized tests so each failure is reported on its own:
///
/// ```swift
/// @Test(arguments: BackendConformance.checks)
/// func conformance(_ check: ConformanceCheck) async throws {
///     try await check.run(ConformanceConfiguration { MyBackend() })
/// }
/// ```
public struct ConformanceCheck: Sendable, Hashable, CustomStringConvertible {
    /// A stable, kebab-case name, e.g. `"duplicate-deploy-conflicts"`.
    public let name: String
    /// What the check establishes.
    public let summary: String
    let body: @Sendable (ConformanceHarness) async throws -> Void

    init(_ name: String, _ summary: String, _ body: @escaping @Sendable (ConformanceHarness) async throws -> Void) {
        self.name = name
        self.summary = summary
        self.body = body
    }

    /// The check's name.
    public var description: String { self.name }

    /// Checks are identified by name.
    public static func == (lhs: ConformanceCheck, rhs: ConformanceCheck) -> Bool { lhs.name == rhs.name }

    /// Checks are identified by name.
    public func hash(into hasher: inout Hasher) { hasher.combine(self.name) }

    /// Runs the check against a fresh backend from `configuration`, deleting what it deployed
    /// afterwards.
    ///
    /// - Throws: ``ConformanceFailure`` when the backend misbehaves; any other error is an
    ///   unexpected failure of the backend (or of the configuration).
    public func run(_ configuration: ConformanceConfiguration) async throws {
        let harness = ConformanceHarness(check: self.name, configuration: configuration)
        do {
            try await self.body(harness)
        } catch {
            await harness.cleanUp()
            throw error
        }
        await harness.cleanUp()
    }
}

/// How the suite reaches the backend under test.
public struct ConformanceConfiguration: Sendable {
    /// Creates a fresh backend instance. Called once per client the checks create; instances may share
    /// storage (a server) — checks use unique service names and delete what they deploy.
    public var makeBackend: @Sendable () async throws -> any Backend
    /// Credentials the backend accepts, or `nil` if it needs none.
    public var credentials: AuthContext?
    /// Which kind of service code the backend runs.
    public var flavor: ServiceFlavor
    /// The registry clients are created with (a private one by default, so checks never touch
    /// ``MLDeploy/BackendRegistry/shared``).
    public var registry: BackendRegistry

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - credentials: Credentials the backend accepts, or `nil`.
    ///   - flavor: The kind of service code the backend runs (Swift handlers by default).
    ///   - makeBackend: Creates a fresh backend.
    public init(
        credentials: AuthContext? = nil,
        flavor: ServiceFlavor = .swiftHandlers,
        registry: BackendRegistry = BackendRegistry(),
        makeBackend: @escaping @Sendable () async throws -> any Backend
    ) {
        self.makeBackend = makeBackend
        self.credentials = credentials
        self.flavor = flavor
        self.registry = registry
    }
}

/// The kind of service code the suite deploys to exercise a backend.
public struct ServiceFlavor: Sendable, Hashable, CustomStringConvertible {
    let rawValue: String

    /// Swift handlers (in-process backends).
    public static let swiftHandlers = ServiceFlavor(rawValue: "swift")
    /// Python `code`/`initCode` (any backend with a Python runtime, local or remote).
    public static let python = ServiceFlavor(rawValue: "python")

    /// The flavor's name.
    public var description: String { self.rawValue }
}

/// A backend behaved differently from what the ML Server semantics require.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The check that failed.
    public var check: String
    /// What was expected and what happened.
    public var message: String
    /// Where in the suite the expectation is (`file:line`).
    public var location: String

    /// `check: message (location)`.
    public var description: String { "\(self.check): \(self.message) (\(self.location))" }
}
