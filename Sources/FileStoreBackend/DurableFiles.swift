import Foundation
import MLDeploy

/// The file operations the store is built from, in POSIX terms, each turning `errno` into an
/// ``MLDeploy/MLDeployError`` that names the path and says what to do.
///
/// Every write is atomic and durable: the bytes go to a temporary file in `tmp/`, which is fsync'd,
/// renamed into place, and the directory fsync'd — so after a crash a file is either the old one or
/// the new one, complete. Files are created owner-only (0600), directories 0700.
enum DurableFiles {
    /// Writes `bytes` to `path` atomically and durably, through a temporary file in `temporaryDirectory`
    /// (which must be on the same file system).
    static func write(_ bytes: [UInt8], to path: String, temporaryDirectory: String) throws {
        let temporary = temporaryDirectory + "/" + UUID().uuidString
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.error("create", temporary) }
        var written = 0
        let writeResult: Int32 = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let count = Foundation.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += count
            }
            return 0
        }
        if writeResult != 0 {
            close(descriptor)
            unlink(temporary)
            errno = writeResult
            throw Self.error("write", temporary)
        }
        if fsync(descriptor) != 0 {
            let saved = errno
            close(descriptor)
            unlink(temporary)
            errno = saved
            throw Self.error("fsync", temporary)
        }
        close(descriptor)
        if rename(temporary, path) != 0 {
            let saved = errno
            unlink(temporary)
            errno = saved
            throw Self.error("rename into", path)
        }
        try Self.syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, making a rename or unlink in it durable.
    static func syncDirectory(of path: String) throws {
        try Self.sync(directory: (path as NSString).deletingLastPathComponent)
    }

    /// fsyncs `directory`.
    static func sync(directory: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error("open", directory) }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw Self.error("fsync", directory) }
    }

    /// Reads a whole file; `nil` if it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.error("open", path)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Self.error("stat", path) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error("read", path)
            }
            if count == 0 { break }
            filled += count
        }
        return filled == bytes.count ? bytes : Array(bytes[0..<filled])
    }

    /// Creates `path` as a directory (0700) if it does not exist.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0, errno != EEXIST { throw Self.error("create directory", path) }
    }

    /// Removes a file; a missing file is fine.
    static func remove(_ path: String) throws {
        if unlink(path) != 0, errno != ENOENT { throw Self.error("remove", path) }
    }

    /// Removes an empty directory; a missing or non-empty one is left alone.
    static func removeDirectoryIfEmpty(_ path: String) {
        _ = rmdir(path)
    }

    /// The names in a directory (without `.` and `..`); empty if it does not exist.
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw Self.error("list", path)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// What identifies a file's or directory's current contents: modification time, size, inode.
    struct Stamp: Hashable, Sendable {
        let seconds: Int
        let nanoseconds: Int
        let size: Int
        let inode: UInt64
    }

    /// The stamp of `path`, or `nil` if it does not exist.
    static func stamp(_ path: String) throws -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.error("stat", path)
        }
        return Stamp(seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec, size: Int(info.st_size), inode: UInt64(info.st_ino))
    }

    /// Whether `path` exists.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// An error for a failed system call on `path`, from `errno`.
    static func error(_ action: String, _ path: String) -> MLDeployError {
        let code = errno
        let reason = String(cString: strerror(code))
        switch code {
        case EROFS, EACCES, EPERM:
            return MLDeployError(
                code: .storageFailure,
                message: "Cannot \(action) \(path): \(reason). The store is read-only for this process; use a writable root, or only read from it."
            )
        case ENOSPC, EDQUOT:
            return MLDeployError(code: .storageFailure, message: "Cannot \(action) \(path): \(reason). Free some space; nothing was half-written.")
        default:
            return MLDeployError(code: .storageFailure, message: "Cannot \(action) \(path): \(reason).")
        }
    }
}
