import Foundation

/// A `multipart/form-data` body as the Python SDK's `requests` builds it for realtime publishing
/// (`deploy_realtime`): text fields, then the model as a file part named `model` with filename `model` and no
/// part content type. Fields whose value is `nil` are left out.
struct MultipartFormBody {
    let boundary = "mldeploy-" + UUID().uuidString.lowercased()
    private(set) var bytes: [UInt8] = []

    var contentType: String { "multipart/form-data; boundary=\(self.boundary)" }

    mutating func add(field name: String, _ value: String?) {
        guard let value else { return }
        self.bytes += Array("--\(self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
    }

    mutating func add(file name: String, filename: String, _ data: Data) {
        self.bytes += Array("--\(self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\n\r\n".utf8)
        self.bytes += data
        self.bytes += Array("\r\n".utf8)
    }

    /// The body, closed.
    func finished() -> [UInt8] {
        self.bytes + Array("--\(self.boundary)--\r\n".utf8)
    }
}
