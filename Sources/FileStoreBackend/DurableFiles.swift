import Foundation
import MLDeploy

/// The file operations the store is built from, in POSIX terms, each turning `errno` into an
/// ``MLDeploy/MLDeployError`` that names the path and says what to do.
///
/// Every write is atomic: the bytes go to a temporary file in `tmp/`, which is renamed into place,
/// so a reader or a crashed process's successor sees the old file or the new one, complete. When
/// `synchronous` (the default), the file is fsync'd before the rename and its directory after it, so
/// the same holds after a power loss or kernel crash. Files are created owner-only (0600),
/// directories 0700.
struct DurableFiles: Sendable {
    /// Where temporary files go (on the same file system as the files written).
    let temporaryDirectory: String
    /// Whether writes are fsync'd (durable across power loss), or only atomic.
    let synchronous: Bool

    /// Writes `bytes` to `path` atomically (and durably, when synchronous).
    func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = self.temporaryDirectory + "/" + UUID().uuidString
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
        if self.synchronous, fsync(descriptor) != 0 {
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
        try self.syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, making a rename or unlink in it durable.
    func syncDirectory(of path: String) throws {
        try self.sync(directory: (path as NSString).deletingLastPathComponent)
    }

    /// fsyncs `directory` (when synchronous).
    func sync(directory: String) throws {
        guard self.synchronous else { return }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error("open", directory) }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw Self.error("fsync", directory) }
    }

    /// Reads a whole file; `nil` if it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        try Self.readStamped(path)?.bytes
    }

    /// Reads a whole file and the stamp it had when opened (one path lookup for both); `nil` if it
    /// does not exist.
    static func readStamped(_ path: String) throws -> (bytes: [UInt8], stamp: Stamp)? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.error("open", path)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Self.error("stat", path) }
        let stamp = Stamp(info)
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
        return (filled == bytes.count ? bytes : Array(bytes[0..<filled]), stamp)
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

    /// Whether a directory has no entries (or does not exist). Stops at the first entry, so it costs
    /// the same for a directory of millions.
    static func isEmptyDirectory(_ path: String) throws -> Bool {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return true }
            throw Self.error("list", path)
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let isDot = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: UInt8.self, capacity: 3) { name in
                    name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
                }
            }
            if !isDot { return false }
        }
        return true
    }

    /// The names in a directory (without `.` and `..`); empty if it does not exist.
    /// Whether `path` is a directory (not following a symbolic link).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The names in directory `path` that are directories themselves: stray files beside them (a
    /// note someone left in `services/`) are skipped instead of failing every listing.
    static func listDirectories(_ path: String) throws -> [String] {
        try Self.list(path).filter { Self.isDirectory(path + "/" + $0) }
    }

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

        init(_ info: stat) {
            self.seconds = info.st_mtim.tv_sec
            self.nanoseconds = info.st_mtim.tv_nsec
            self.size = Int(info.st_size)
            self.inode = UInt64(info.st_ino)
        }
    }

    /// The stamp of `path`, or `nil` if it does not exist.
    static func stamp(_ path: String) throws -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.error("stat", path)
        }
        return Stamp(info)
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
