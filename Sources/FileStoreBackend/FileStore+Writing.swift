import Foundation
import Logging
import MLDeploy
import ServiceRuntime

/// The write protocol. Under the exclusive lock:
///
/// 1. finish any write a crashed process left (``FileStore/recover()``);
/// 2. record the intent (`intent.json`: the version, its revision, every blob hash involved);
/// 3. write new blobs and create reference markers for the new manifest;
/// 4. **commit**: rename the new manifest into place (or unlink it, for a delete);
/// 5. remove the markers of blobs the version no longer uses, and collect blobs nothing references;
/// 6. append the service name to `changes.log`, then remove the intent.
///
/// A crash before step 4 leaves the old state; at or after it, the new one. Either way the intent
/// lets the next writer (or the next process to open the store) reconcile markers and blobs with
/// whichever manifest is on disk, so nothing is leaked or lost.
extension FileStore {
    /// Runs `decide` (from the name's current versions) and applies its change under the exclusive
    /// lock; returns the manifest written or deleted.
    func write(name: String, _ decide: @escaping @Sendable (StoreIndex.Name?) throws -> ManifestChange) async throws -> Manifest {
        try NameRules.checkServiceName(name)
        if self.isReadOnly {
            throw MLDeployError(code: .storageFailure, message: "The store at \(self.root) is read-only for this process; it can be read but not changed.")
        }
        let lock = try await StoreLock(path: self.layout.lock, mode: .exclusive)
        defer { withExtendedLifetime(lock) {} }
        return try await StoreIO.run {
            if DurableFiles.exists(self.layout.intent) { try self.recover() }
            try self.index.catchUp()
            let change = try decide(try self.index.name(name))
            return try self.apply(change)
        }
    }

    private func apply(_ change: ManifestChange) throws -> Manifest {
        let layout = self.layout
        switch change {
        case .put(let manifest, let blobs):
            let name = manifest.info.name, version = manifest.info.version
            let old = try self.index.name(name)?.version(version)
            let newHashes = manifest.blobHashes
            let oldHashes = old?.blobHashes ?? []
            let added = newHashes.filter { blobs[$0] != nil && !DurableFiles.exists(layout.blob($0)) }
            try self.recordIntent(operation: "put", name: name, version: version, hashes: newHashes.union(oldHashes), added: added)
            for hash in added.sorted() {
                try DurableFiles.makeDirectory(layout.blobDirectory(hash))
                try self.files.write(blobs[hash]!, to: layout.blob(hash))
            }
            try self.addReferences(newHashes, name: name, version: version)
            let directory = layout.serviceDirectory(name)
            if !DurableFiles.exists(directory) {
                try DurableFiles.makeDirectory(directory)
                try self.files.sync(directory: layout.services)
            }
            try self.files.write(try manifest.json().serializedBytes(), to: layout.manifest(name, version))
            for hash in oldHashes.subtracting(newHashes) {
                try DurableFiles.remove(layout.reference(hash, name, version))
                try self.collect(hash)
            }
            let stamp = try DurableFiles.stamp(layout.manifest(name, version))
            try self.finish(name: name, version: version, written: stamp.map { StoreIndex.Version(stamp: $0, manifest: manifest) })
            return manifest
        case .delete(let manifest):
            let name = manifest.info.name, version = manifest.info.version
            try self.recordIntent(operation: "delete", name: name, version: version, hashes: manifest.blobHashes, added: [])
            try DurableFiles.remove(layout.manifest(name, version))
            try self.files.syncDirectory(of: layout.manifest(name, version))
            for hash in manifest.blobHashes {
                try DurableFiles.remove(layout.reference(hash, name, version))
                try self.collect(hash)
            }
            DurableFiles.removeDirectoryIfEmpty(layout.serviceDirectory(name))
            try self.finish(name: name, version: version, written: nil)
            return manifest
        }
    }

    private func recordIntent(operation: String, name: String, version: String, hashes: Set<String>, added: Set<String>) throws {
        let intent: JSONValue = [
            "operation": .string(operation), "name": .string(name), "version": .string(version),
            "hashes": .array(hashes.sorted().map(JSONValue.string)), "added": .array(added.sorted().map(JSONValue.string)),
        ]
        try self.files.write(try intent.serializedBytes(), to: self.layout.intent)
    }

    /// Creates the reference markers `refs/HASH/NAME@VERSION`, durably.
    private func addReferences(_ hashes: Set<String>, name: String, version: String) throws {
        var createdDirectory = false
        for hash in hashes.sorted() {
            let directory = self.layout.referenceDirectory(hash)
            if !DurableFiles.exists(directory) {
                try DurableFiles.makeDirectory(directory)
                createdDirectory = true
            }
            let marker = self.layout.reference(hash, name, version)
            let descriptor = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw DurableFiles.error("create", marker) }
            close(descriptor)
            try self.files.sync(directory: directory)
        }
        if createdDirectory { try self.files.sync(directory: self.layout.refs) }
    }

    /// Deletes a blob (and its marker directory) when no version references it any more.
    func collect(_ hash: String) throws {
        let directory = self.layout.referenceDirectory(hash)
        guard try DurableFiles.isEmptyDirectory(directory) else { return }
        try DurableFiles.remove(self.layout.blob(hash))
        DurableFiles.removeDirectoryIfEmpty(directory)
        DurableFiles.removeDirectoryIfEmpty(self.layout.blobDirectory(hash))
    }

    /// Tells other processes the name changed, ends the write, and updates this process's index.
    private func finish(name: String, version: String, written: StoreIndex.Version?) throws {
        let logged = try self.logChange(name)
        try DurableFiles.remove(self.layout.intent)
        self.index.changed(name, version: version, to: written, loggedBytes: logged)
    }

    /// Appends `name` to the change log (starting a new log when it is long); returns the bytes
    /// appended, or `nil` when the log was replaced (every reader then reloads).
    private func logChange(_ name: String) throws -> Int? {
        let path = self.layout.changes
        var rotated = false
        if let stamp = try DurableFiles.stamp(path), stamp.size > Self.changeLogLimit {
            try self.files.write([], to: path)
            rotated = true
        }
        let line = Array((name + "\n").utf8)
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DurableFiles.error("open", path) }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else { throw DurableFiles.error("append to", path) }
        return rotated ? nil : line.count
    }

    /// Finishes a write a crashed process left: makes the reference markers of the intent's version
    /// agree with whichever manifest is on disk (old or new), collects blobs nothing references, logs
    /// the change, and empties `tmp/`. Idempotent. Call holding the exclusive lock.
    func recover() throws {
        let layout = self.layout
        if let bytes = try DurableFiles.read(layout.intent) {
            let intent = (try? JSONValue(parsing: bytes)) ?? .null
            if let name = intent["name"]?.stringValue, let version = intent["version"]?.stringValue,
                (try? NameRules.checkServiceName(name)) != nil, (try? NameRules.checkVersion(version)) != nil
            {
                let hashes = Set((intent["hashes"]?.arrayValue ?? []).compactMap(\.stringValue).filter(Manifest.isHash))
                let added = Set((intent["added"]?.arrayValue ?? []).compactMap(\.stringValue).filter(Manifest.isHash))
                let current = try DurableFiles.read(layout.manifest(name, version)).flatMap { try? Manifest(bytes: $0) }
                let desired = current?.blobHashes ?? []
                try self.addReferences(desired, name: name, version: version)
                for hash in hashes.subtracting(desired) {
                    try DurableFiles.remove(layout.reference(hash, name, version))
                }
                for hash in hashes.union(added).subtracting(desired) {
                    try self.collect(hash)
                }
                DurableFiles.removeDirectoryIfEmpty(layout.serviceDirectory(name))
                _ = try self.logChange(name)
                self.index.invalidate(name)
                self.logger.notice("recovered from an interrupted write", metadata: ["service": "\(name)/\(version)", "state": "\(current == nil ? "absent" : "present")"])
            }
            try DurableFiles.remove(layout.intent)
            try self.files.sync(directory: layout.root)
        }
        for leftover in try DurableFiles.list(layout.tmp) {
            try DurableFiles.remove(layout.tmp + "/" + leftover)
        }
    }
}
