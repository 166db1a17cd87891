import Foundation
import MLDeploy
import MLDeployHTTP

extension MLServerBackend {
    /// `GET /services/{name}/{version}` (an array of one, or an object), or for the latest
    /// `GET /services/{name}` and its last element — the server lists versions oldest first.
    public func getService(_ name: String, version: String?) async throws -> ServiceInfo {
        let services: [ServiceInfo]
        do {
            services = try await self.listServices(version.map { .version(name: name, version: $0) } ?? .named(name))
        } catch let error as MLDeployError where error.code == .notFound {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        guard let service = version == nil ? services.last : services.first else {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
        return service
    }

    /// `GET /services`, `GET /services/{name}` or `GET /services/{name}/{version}`.
    public func listServices(_ query: ServiceQuery) async throws -> [ServiceInfo] {
        let path: String
        switch query {
        case .all: path = "/services"
        case .named(let name): path = Self.path("services", name)
        case .version(let name, let version): path = Self.path("services", name, version)
        }
        let json: JSONValue
        do {
            json = try await self.sendJSON(.get, path)
        } catch let error as MLDeployError where error.code == .notFound && query != .all {
            return []  // nothing by that name (or version): an empty list, as for the other backends
        }
        let items: [JSONValue]
        switch json {
        case .array(let array): items = array
        case .object: items = [json]
        case .null: items = []
        default:
            throw MLDeployError(code: .invalidResponse, message: "GET \(path) answered \(json), not a list of services.")
        }
        return try items.map { item in
            do {
                return try ServiceInfo(webServiceJSON: item)
            } catch {
                throw MLDeployError(code: .invalidResponse, message: "GET \(path) answered a service this client cannot read: \(error)", underlying: error)
            }
        }
    }

    /// `DELETE /services/{name}/{version}`.
    public func deleteService(_ name: String, version: String) async throws {
        do {
            try await self.send(.delete, Self.path("services", name, version))
        } catch let error as MLDeployError where error.code == .notFound {
            throw MLDeployError.serviceNotFound(name: name, version: version)
        }
    }
}
