import Foundation
import MLDeploy

/// The store's cross-process lock: `flock` on `ROOT/lock`, shared for readers and exclusive for
/// writers, so several processes can use one root at once without losing or corrupting anything.
///
/// The lock is held for the life of the value. Each hold opens its own descriptor (flock locks belong to the open file description, so two
/// holders in one process exclude each other too). Waiting never blocks a thread: the lock is tried
/// without blocking and retried with a short sleep.
final class StoreLock: Sendable {
    enum Mode {
        case shared
        case exclusive
    }

    private let descriptor: Int32

    /// Acquires the lock, waiting (asynchronously) for other holders.
    init(path: String, mode: Mode) async throws {
        var descriptor = open(path, O_RDWR | O_CLOEXEC)
        if descriptor < 0, errno == EACCES || errno == EROFS, mode == .shared {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)  // a read-only root can still be read
        }
        guard descriptor >= 0 else { throw DurableFiles.error("open the lock", path) }
        let operation = (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB
        var wait = Duration.microseconds(50)
        while flock(descriptor, operation) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let error = DurableFiles.error("lock", path)
                close(descriptor)
                throw error
            }
            do {
                try await Task.sleep(for: wait)
            } catch {
                close(descriptor)
                throw MLDeployError(code: .cancelled, message: "Waiting for the store's lock was cancelled.")
            }
            wait = min(wait * 2, .milliseconds(5))
        }
        self.descriptor = descriptor
    }

    deinit {
        self.release()
    }

    /// Releases the lock (also done when the lock is deallocated).
    private func release() {
        flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
    }
}

/// Runs blocking file-system work on threads of its own, never on Swift's cooperative pool.
enum StoreIO {
    private static let queue = DispatchQueue(label: "mldeploy.filestore.io", attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Self.queue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
