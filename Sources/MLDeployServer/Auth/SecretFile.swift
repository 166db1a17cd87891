import Foundation
import MLDeploy

/// Reads and writes the server's small secret files (users, signing key, refresh tokens): created
/// owner-only (0600) from the first byte, replaced atomically (temporary file, fsync, rename, fsync
/// of the directory), so a crash leaves the old file or the new one and no other user can read it.
enum SecretFile {
    /// The file's bytes, or `nil` if it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw MLDeployError(code: .storageFailure, message: "Cannot read \(path): \(error.localizedDescription)")
        }
    }

    /// Replaces the file with `bytes`, atomically and durably, owner-only.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/." + (path as NSString).lastPathComponent + "." + UUID().uuidString
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("create", temporary) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let error = Self.failure("write", temporary)
                close(descriptor)
                unlink(temporary)
                throw error
            }
            written += count
        }
        guard fsync(descriptor) == 0 else {
            let error = Self.failure("fsync", temporary)
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let error = Self.failure("rename into", path)
            unlink(temporary)
            throw error
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func failure(_ action: String, _ path: String) -> MLDeployError {
        MLDeployError(code: .storageFailure, message: "Cannot \(action) \(path): \(String(cString: strerror(errno))).")
    }
}
