import Foundation
#if canImport(Glibc)
import Glibc
#endif
// `struct stat` is declared by several C modules in the graph; the one Swift settles on can be
// CoreFoundation's, which member-import visibility then needs imported.
#if canImport(CoreFoundation)
import CoreFoundation
#endif

/// What identifies a file's current contents cheaply: inode, size and modification time. A file
/// replaced by rename gets a new inode even when the clock has not moved, so changes made in quick
/// succession by another process are still noticed.
struct FileStamp: Hashable, Sendable {
    let inode: UInt64
    let size: Int64
    let seconds: Int
    let nanoseconds: Int

    /// The stamp of `path`, or `nil` if it does not exist.
    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.seconds = info.st_mtim.tv_sec
        self.nanoseconds = info.st_mtim.tv_nsec
    }
}
