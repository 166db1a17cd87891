import CLDAP
import Foundation
import MLDeploy

/// One connection to a directory through OpenLDAP's client library, used by one login on one
/// thread (libldap's synchronous calls block) and closed after it.
final class LDAPConnection {
    private let handle: OpaquePointer
    private let url: String

    /// Connects lazily (libldap connects at the first operation), speaking LDAPv3.
    init(url: String, timeout: Duration) throws {
        var handle: OpaquePointer?
        let status = ldap_initialize(&handle, url)
        guard status == LDAP_SUCCESS, let handle else {
            throw MLDeployError(code: .invalidConfiguration, message: "The LDAP URL '\(url)' is not usable (server.ldap.url): \(String(cString: ldap_err2string(status))).")
        }
        self.handle = handle
        self.url = url
        var version = LDAP_VERSION3
        _ = ldap_set_option(handle, LDAP_OPT_PROTOCOL_VERSION, &version)
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        _ = ldap_set_option(handle, LDAP_OPT_NETWORK_TIMEOUT, &limit)
        _ = ldap_set_option(handle, LDAP_OPT_TIMEOUT, &limit)
        // Referrals would bind elsewhere with these credentials: not followed.
        _ = ldap_set_option(handle, LDAP_OPT_REFERRALS, nil)
    }

    deinit {
        ldap_unbind_ext_s(self.handle, nil, nil)
    }

    /// A simple bind: `true` when the directory accepts the DN and password, `false` when it
    /// refuses them (invalid credentials).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unreachable`` when the directory cannot be reached
    ///   or fails otherwise.
    func bind(dn: String, password: String) throws -> Bool {
        var bytes = Array(password.utf8)
        let status = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) { pointer in
                var credential = berval(bv_len: ber_len_t(buffer.count), bv_val: buffer.count == 0 ? nil : pointer)
                return ldap_sasl_bind_s(self.handle, dn, cldap_simple_mechanism(), &credential, nil, nil, nil)
            }
        }
        if status == LDAP_SUCCESS { return true }
        if status == LDAP_INVALID_CREDENTIALS { return false }
        throw self.failure(status, "bind as \(dn)")
    }

    /// The DN and requested attributes of every entry under `base` that `filter` matches.
    func search(base: String, filter: String, attributes: [String]) throws -> [(dn: String, attributes: [String: [String]])] {
        var names: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
        defer { for name in names { free(name) } }
        var result: OpaquePointer?
        let status = names.withUnsafeMutableBufferPointer { buffer in
            ldap_search_ext_s(self.handle, base, LDAP_SCOPE_SUBTREE, filter, buffer.baseAddress, 0, nil, nil, nil, 0, &result)
        }
        defer { if let result { ldap_msgfree(result) } }
        if status == LDAP_NO_SUCH_OBJECT { return [] }
        guard status == LDAP_SUCCESS else { throw self.failure(status, "search of \(base)") }
        var entries: [(String, [String: [String]])] = []
        var entry = ldap_first_entry(self.handle, result)
        while let current = entry {
            var dn = ""
            if let pointer = ldap_get_dn(self.handle, current) {
                dn = String(cString: pointer)
                ldap_memfree(pointer)
            }
            var values: [String: [String]] = [:]
            for attribute in attributes {
                guard let list = ldap_get_values_len(self.handle, current, attribute) else { continue }
                var index = 0
                while let value = list[index] {
                    let bytes = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                    values[attribute, default: []].append(String(decoding: bytes, as: UTF8.self))
                    index += 1
                }
                ldap_value_free_len(list)
            }
            entries.append((dn, values))
            entry = ldap_next_entry(self.handle, current)
        }
        return entries
    }

    private func failure(_ status: Int32, _ what: String) -> MLDeployError {
        let reason = String(cString: ldap_err2string(status))
        let code: MLDeployError.Code = status == LDAP_SERVER_DOWN || status == LDAP_TIMEOUT || status == LDAP_CONNECT_ERROR ? .unreachable : .backendFailure
        return MLDeployError(code: code, message: "The directory at \(self.url) failed the \(what): \(reason).")
    }

    /// `value` escaped for use inside a search filter (RFC 4515): `*`, `(`, `)`, `\` and NUL
    /// become `\2a`, `\28`, `\29`, `\5c` and `\00`, so a user name cannot widen the search.
    static func escapeFilterValue(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*", "(", ")", "\\", "\0": escaped += String(format: "\\%02x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
