import Foundation
import Logging
import MLDeploy
import MLDeployServer

/// Signs in directory users (OpenLDAP, Active Directory) at `POST /login`: the user is found by a
/// search (as the configured service account, or anonymously), their password checked by binding
/// as them, and their groups — searched with the user's DN — mapped to a role. The server then
/// issues its own tokens for them, as for local users.
///
/// User names and DNs are escaped before they go into a filter (RFC 4515), so `*` or `)(` in a
/// name cannot widen a search; an empty password is refused before any bind (an LDAP "unauthenticated
/// bind" would otherwise succeed without one). Each login opens its own connection on a thread of
/// its own (libldap's calls block) and closes it.
public struct LDAPAuthenticator: Authenticator {
    /// Where the directory is and how users and groups are found.
    public let settings: LDAPSettings
    /// `ldap`.
    public var name: String { "ldap" }
    private let logger: Logger

    /// An authenticator for `settings`' directory.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidConfiguration`` for a URL that is not
    ///   `ldap://` or `ldaps://`, or a user filter without `{username}`.
    public init(settings: LDAPSettings, logger: Logger = Logger(label: "mldeploy.server.ldap")) throws {
        let scheme = settings.url.split(separator: ":").first.map { $0.lowercased() }
        guard scheme == "ldap" || scheme == "ldaps" else {
            throw MLDeployError(code: .invalidConfiguration, message: "server.ldap.url must be an ldap:// or ldaps:// URL, e.g. ldaps://dc.example.org:636; not '\(settings.url)'.")
        }
        guard settings.userFilter.contains("{username}") else {
            throw MLDeployError(code: .invalidConfiguration, message: "server.ldap.user_filter must contain {username}, e.g. (uid={username}); not '\(settings.userFilter)'.")
        }
        self.settings = settings
        self.logger = logger
    }

    /// The directory user `username` with `password`, with the role their groups map to; `nil`
    /// for an unknown user or a wrong password.
    public func login(username: String, password: String) async throws -> AuthenticatedUser? {
        guard !username.isEmpty, !password.isEmpty else { return nil }
        let settings = self.settings
        let found = try await Self.onThread { () throws -> (dn: String, groups: [String])? in
            let connection = try LDAPConnection(url: settings.url, timeout: settings.timeout)
            if let dn = settings.bindDN {
                guard try connection.bind(dn: dn, password: settings.bindPassword ?? "") else {
                    throw MLDeployError(code: .invalidConfiguration, message: "The directory refused the server's own account \(dn) (server.ldap.bind_dn, bind_password).")
                }
            }
            let filter = settings.userFilter.replacingOccurrences(of: "{username}", with: LDAPConnection.escapeFilterValue(username))
            let users = try connection.search(base: settings.userBase, filter: filter, attributes: ["1.1"])  // "1.1": no attributes, the DN only
            // None, or more than one (a filter that is not unique): nobody signs in.
            guard users.count == 1, let dn = users.first?.dn, !dn.isEmpty else { return nil }
            guard try connection.bind(dn: dn, password: password) else { return nil }
            // The groups, searched as the service account again where there is one.
            if let bindDN = settings.bindDN { _ = try connection.bind(dn: bindDN, password: settings.bindPassword ?? "") }
            let groupBase = settings.groupBase ?? settings.userBase.split(separator: ",").dropFirst().joined(separator: ",")
            let groupFilter = settings.groupFilter.replacingOccurrences(of: "{dn}", with: LDAPConnection.escapeFilterValue(dn))
            let groups = try connection.search(base: groupBase, filter: groupFilter, attributes: [settings.groupAttribute])
            return (dn, groups.flatMap { $0.attributes[settings.groupAttribute] ?? [] })
        }
        guard let found else { return nil }
        let mapped = found.groups.compactMap { settings.roles[$0] }
        guard let role = ServerRole.allCases.first(where: mapped.contains) ?? settings.defaultRole else {
            throw MLDeployError(
                code: .authenticationFailed,
                message: "\(username) has no role here: their groups (\(found.groups.isEmpty ? "none" : found.groups.joined(separator: ", "))) include none that server.ldap.owners, contributors or readers map."
            )
        }
        self.logger.debug("directory sign-in", metadata: ["dn": "\(found.dn)", "groups": "\(found.groups)"])
        return AuthenticatedUser(name: username, role: role, authenticator: self.name)
    }

    /// Runs blocking directory calls on a thread of their own, off Swift's cooperative pool.
    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result(catching: work)) }
        }
    }
}
