import Foundation
import Logging
import MLDeploy
import ServiceRuntime
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
        private(set) var versions: [Version]
        /// Files that could not be read, with the stamp they had when they failed.
        private(set) var unreadable: [String: DurableFiles.Stamp]
        /// Where each version is in `versions`.
        private var positions: [String: Int] = [:]

        init(versions: [Version], unreadable: [String: DurableFiles.Stamp]) {
            self.versions = versions.sorted { ($0.manifest.sequence, $0.manifest.info.version) < ($1.manifest.sequence, $1.manifest.info.version) }
            self.unreadable = unreadable
            self.reindex()
        }

        func version(_ version: String) -> Manifest? {
            self.positions[version].map { self.versions[$0].manifest }
        }

        var latest: Manifest? { self.versions.last?.manifest }

        /// Adds or replaces a version this process just wrote.
        mutating func put(_ version: Version) {
            let key = version.manifest.info.version
            self.unreadable[key + ".json"] = nil
            if let position = self.positions[key] {
                self.versions[position] = version
            } else if let last = self.versions.last?.manifest, (last.sequence, last.info.version) > (version.manifest.sequence, key) {
                self = Name(versions: self.versions + [version], unreadable: self.unreadable)
            } else {
                self.positions[key] = self.versions.count
                self.versions.append(version)
            }
        }

        /// Removes a version this process just deleted.
        mutating func remove(_ version: String) {
            guard let position = self.positions[version] else { return }
            self.versions.remove(at: position)
            self.reindex()
        }

        private mutating func reindex() {
            self.positions = Dictionary(uniqueKeysWithValues: self.versions.enumerated().map { ($1.manifest.info.version, $0) })
        }
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
    ///
    /// Names not yet loaded are loaded in parallel, one per core: a cold listing of a large store
    /// is bound by `open`/`read` system calls and manifest parsing, both of which scale.
    func allNames() throws -> [Name] {
        let known: [String]? = self.state.withLock { state in
            state.complete ? state.names.keys.sorted() : nil
        }
        let names = try known ?? DurableFiles.listDirectories(self.layout.services).sorted()
        try self.preload(names)
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

    /// Loads the names that are not fresh, spread over the cores.
    private func preload(_ names: [String]) throws {
        let stale = self.state.withLock { state in names.filter { !state.fresh.contains($0) } }
        guard stale.count > 1 else { return }
        let outcomes = Mutex<[String: Result<Name, any Error>]>([:])
        let workers = min(stale.count, max(1, ProcessInfo.processInfo.activeProcessorCount))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var loaded: [String: Result<Name, any Error>] = [:]
            for index in stride(from: worker, to: stale.count, by: workers) {
                let name = stale[index]
                let previous = self.state.withLock { $0.names[name] }
                loaded[name] = Result { try self.load(name, previous: previous) }
            }
            outcomes.withLock { $0.merge(loaded) { first, _ in first } }
        }
        let loaded = try outcomes.withLock { $0 }.mapValues { try $0.get() }
        self.state.withLock { state in
            for (name, entry) in loaded {
                state.names[name] = entry.versions.isEmpty && entry.unreadable.isEmpty ? nil : entry
                state.fresh.insert(name)
            }
        }
    }

    /// Forgets what is cached about a name, so the next read reloads it.
    func invalidate(_ name: String) {
        self.state.withLock { state in
            state.fresh.remove(name)
            if state.names[name] == nil { state.complete = false }
        }
    }

    /// Records a write this process just committed under the exclusive lock, so the next read needs
    /// no reload: `manifest` with the stamp of its new file (`nil` for a delete). The log line it
    /// appended is skipped as already seen; `loggedBytes` `nil` means the log was replaced.
    func changed(_ name: String, version: String, to written: Version?, loggedBytes: Int?) {
        self.state.withLock { state in
            guard let loggedBytes, state.fresh.contains(name) || state.names[name] == nil else {
                state.fresh.remove(name)
                if loggedBytes == nil { state = State() } else if state.names[name] == nil { state.complete = false }
                return
            }
            var entry = state.names[name] ?? Name(versions: [], unreadable: [:])
            if let written { entry.put(written) } else { entry.remove(version) }
            state.names[name] = entry.versions.isEmpty && entry.unreadable.isEmpty ? nil : entry
            state.fresh.insert(name)
            state.logOffset += loggedBytes
        }
    }

    private func load(_ name: String, previous: Name?) throws -> Name {
        let directory = self.layout.serviceDirectory(name)
        // A stray file where a service's directory would be is no service (verify reports it).
        guard DurableFiles.isDirectory(directory) || !DurableFiles.exists(directory) else { return Name(versions: [], unreadable: [:]) }
        var reusable: [String: Version] = [:]
        for version in previous?.versions ?? [] {
            reusable[version.manifest.info.version + ".json"] = version
        }
        var versions: [Version] = []
        var unreadable: [String: DurableFiles.Stamp] = [:]
        for file in try DurableFiles.list(directory) where file.hasSuffix(".json") {
            let path = directory + "/" + file
            // A file seen before is reused if its stamp is unchanged; a new one is read with its
            // stamp in one go (one path lookup instead of two: most of a cold load is syscalls).
            if reusable[file] != nil || previous?.unreadable[file] != nil {
                guard let fileStamp = try DurableFiles.stamp(path) else { continue }  // deleted meanwhile
                if let known = reusable[file], known.stamp == fileStamp {
                    versions.append(known)
                    continue
                }
                if previous?.unreadable[file] == fileStamp {
                    unreadable[file] = fileStamp
                    continue
                }
            }
            var fileStamp: DurableFiles.Stamp?
            do {
                guard let (bytes, stamp) = try DurableFiles.readStamped(path) else { continue }  // deleted meanwhile
                fileStamp = stamp
                let manifest = try Manifest(bytes: bytes)
                guard manifest.info.name == name, manifest.info.version + ".json" == file else {
                    throw MLDeployError(code: .invalidResponse, message: "It describes \(manifest.info.name)/\(manifest.info.version), not the version its path names.")
                }
                versions.append(Version(stamp: stamp, manifest: manifest))
            } catch {
                // A manifest that cannot even be opened (permissions) is skipped like a corrupt one.
                guard let stamp = try fileStamp ?? DurableFiles.stamp(path) else { continue }
                unreadable[file] = stamp
                self.logger.warning("skipping an unreadable manifest", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
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
