import Foundation
import Logging
import MLDeploy
import Synchronization

/// The store's in-process cache of manifests, kept true to the disk across processes.
///
/// Every writer appends the name of the service it changed to `changes.log` after committing. Before
/// each read the index compares the log's size (exact, unlike modification times) and inode with what
/// it last saw: nothing new costs one `stat`; new lines invalidate just the names they list; a
/// rotated log (new inode) invalidates everything. Invalidated names are reloaded from their
/// directory, reusing manifests whose file (inode, size, time) is unchanged.
///
/// Unreadable or foreign manifests are skipped (and logged once per change), never fatal.
final class StoreIndex: Sendable {
    struct Version: Sendable {
        let stamp: DurableFiles.Stamp
        let manifest: Manifest
    }

    struct Name: Sendable {
        /// Versions in deploy order (oldest first).
        let versions: [Version]
        /// Files that could not be read, with the stamp they had when they failed.
        let unreadable: [String: DurableFiles.Stamp]

        func version(_ version: String) -> Manifest? {
            self.versions.first { $0.manifest.info.version == version }?.manifest
        }

        var latest: Manifest? { self.versions.last?.manifest }
    }

    private struct State {
        var names: [String: Name] = [:]
        /// Names known to be current; others are (re)loaded on use.
        var fresh = Set<String>()
        /// Whether `names` lists every service (after a full listing, until the log rotates).
        var complete = false
        var logInode: UInt64?
        var logOffset = 0
    }

    private let layout: StoreLayout
    private let logger: Logger
    private let state = Mutex(State())

    init(layout: StoreLayout, logger: Logger) {
        self.layout = layout
        self.logger = logger
    }

    /// Applies changes other writers logged since the last look. Call holding the store lock.
    func catchUp() throws {
        guard let stamp = try DurableFiles.stamp(self.layout.changes) else {
            self.state.withLock { $0 = State() }
            return
        }
        let (inode, offset) = self.state.withLock { ($0.logInode, $0.logOffset) }
        if inode != stamp.inode || stamp.size < offset {
            self.state.withLock { state in
                state = State()
                state.logInode = stamp.inode
                state.logOffset = stamp.size
            }
            return
        }
        guard stamp.size > offset else { return }
        let changed = try Self.readLines(self.layout.changes, from: offset, to: stamp.size)
        self.state.withLock { state in
            for name in changed.names {
                state.fresh.remove(name)
            }
            if !changed.names.isEmpty { state.complete = state.complete && changed.names.allSatisfy { state.names[$0] != nil } }
            state.logOffset = offset + changed.consumed
        }
    }

    /// The current state of one service name, or `nil` if it has no versions. Call holding the store
    /// lock, after ``catchUp()``.
    func name(_ name: String) throws -> Name? {
        if let cached = self.state.withLock({ $0.fresh.contains(name) ? $0.names[name] : nil }) {
            return cached.versions.isEmpty ? nil : cached
        }
        let previous = self.state.withLock { $0.names[name] }
        let loaded = try self.load(name, previous: previous)
        self.state.withLock { state in
            state.names[name] = loaded
            state.fresh.insert(name)
            if loaded.versions.isEmpty, loaded.unreadable.isEmpty { state.names[name] = nil }
        }
        return loaded.versions.isEmpty ? nil : loaded
    }

    /// Every service name with versions, sorted. Call holding the store lock, after ``catchUp()``.
    func allNames() throws -> [Name] {
        let known: [String]? = self.state.withLock { state in
            state.complete ? state.names.keys.sorted() : nil
        }
        let names = try known ?? DurableFiles.list(self.layout.services).sorted()
        let result = try names.compactMap { try self.name($0) }
        if known == nil {
            self.state.withLock { state in
                let live = Set(names)
                state.names = state.names.filter { live.contains($0.key) }
                state.complete = true
            }
        }
        return result
    }

    /// Forgets what is cached about a name, so the next read reloads it.
    func invalidate(_ name: String) {
        self.state.withLock { state in
            state.fresh.remove(name)
            if state.names[name] == nil { state.complete = false }
        }
    }

    /// Marks a name changed by this process (the log line it appended is then skipped as already seen).
    func changed(_ name: String, loggedBytes: Int) {
        self.state.withLock { state in
            state.fresh.remove(name)
            state.logOffset += loggedBytes
            if state.names[name] == nil { state.complete = false }
        }
    }

    private func load(_ name: String, previous: Name?) throws -> Name {
        let directory = self.layout.serviceDirectory(name)
        var reusable: [String: Version] = [:]
        for version in previous?.versions ?? [] {
            reusable[version.manifest.info.version + ".json"] = version
        }
        var versions: [Version] = []
        var unreadable: [String: DurableFiles.Stamp] = [:]
        for file in try DurableFiles.list(directory) where file.hasSuffix(".json") {
            let path = directory + "/" + file
            guard let fileStamp = try DurableFiles.stamp(path) else { continue }  // deleted meanwhile
            if let known = reusable[file], known.stamp == fileStamp {
                versions.append(known)
                continue
            }
            if previous?.unreadable[file] == fileStamp {
                unreadable[file] = fileStamp
                continue
            }
            do {
                guard let bytes = try DurableFiles.read(path) else { continue }
                let manifest = try Manifest(bytes: bytes)
                guard manifest.info.name == name, manifest.info.version + ".json" == file else {
                    throw MLDeployError(code: .invalidResponse, message: "It describes \(manifest.info.name)/\(manifest.info.version), not the version its path names.")
                }
                versions.append(Version(stamp: fileStamp, manifest: manifest))
            } catch {
                unreadable[file] = fileStamp
                self.logger.warning("skipping an unreadable manifest", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        versions.sort { ($0.manifest.sequence, $0.manifest.info.version) < ($1.manifest.sequence, $1.manifest.info.version) }
        return Name(versions: versions, unreadable: unreadable)
    }

    /// The complete lines of `path` between two offsets, and how many bytes they span.
    private static func readLines(_ path: String, from start: Int, to end: Int) throws -> (names: [String], consumed: Int) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DurableFiles.error("open", path) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: end - start)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(start)) }
        guard count >= 0 else { throw DurableFiles.error("read", path) }
        let complete = bytes[0..<count].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let names = bytes[0..<complete].split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        return (names, complete)
    }
}
