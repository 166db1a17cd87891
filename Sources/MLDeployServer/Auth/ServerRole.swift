/// What a user may do on the server, as ML Server's roles have it.
///
/// - ``owner``: everything, on every service.
/// - ``contributor``: publishes services and changes or deletes its own; lists and consumes all.
/// - ``reader``: lists and consumes.
public enum ServerRole: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Everything, on every service.
    case owner = "Owner"
    /// Publishes, and changes or deletes its own services; lists and consumes all.
    case contributor = "Contributor"
    /// Lists and consumes.
    case reader = "Reader"

    /// Reads a role, ignoring case (`owner`, `Contributor`, `READER`).
    public init?(spelling: String) {
        guard let role = Self.allCases.first(where: { $0.rawValue.lowercased() == spelling.lowercased() }) else { return nil }
        self = role
    }

    /// The role's name as ML Server spells it.
    public var description: String { self.rawValue }

    /// Whether the role may publish new services.
    public var canPublish: Bool { self != .reader }

    /// Whether the role may change or delete a service published by `publisher`, as `user`.
    public func canChange(serviceOf publisher: String?, as user: String) -> Bool {
        switch self {
        case .owner: return true
        case .contributor: return publisher == nil || publisher == user
        case .reader: return false
        }
    }
}
