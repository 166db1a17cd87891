import Foundation
import MLDeploy
import ServiceRuntime
import MLDeployCrypto

/// What ``FileStore/verify()`` found.
public struct StoreVerification: Sendable, Hashable {
    /// One problem.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// What kind of problem it is.
        public struct Kind: Hashable, Sendable, CustomStringConvertible {
            /// The kind's stable name.
            public let rawValue: String
            /// A manifest that cannot be read, is not JSON, is foreign or newer, or names another version.
            public static let unreadableManifest = Kind(rawValue: "unreadable-manifest")
            /// A manifest refers to a blob that is not there.
            public static let missingBlob = Kind(rawValue: "missing-blob")
            /// A blob's bytes do not hash to its name.
            public static let checksumMismatch = Kind(rawValue: "checksum-mismatch")
            /// A blob no manifest refers to.
            public static let orphanBlob = Kind(rawValue: "orphan-blob")
            /// A reference marker for a version that does not (or no longer) refer to the blob.
            public static let orphanReference = Kind(rawValue: "orphan-reference")
            /// A manifest refers to a blob without the matching reference marker (the blob could be collected).
            public static let missingReference = Kind(rawValue: "missing-reference")
            /// A file in `tmp/` or an `intent.json`: an interrupted write not yet recovered.
            public static let interruptedWrite = Kind(rawValue: "interrupted-write")
            /// Something in the store's directories that does not belong there.
            public static let unexpectedFile = Kind(rawValue: "unexpected-file")

            /// The kind's stable name.
            public var description: String { self.rawValue }
        }

        /// The kind.
        public var kind: Kind
        /// The file concerned, relative to the root.
        public var path: String
        /// What exactly is wrong.
        public var detail: String

        /// `kind path: detail`.
        public var description: String { "\(self.kind) \(self.path): \(self.detail)" }
    }

    /// Everything found; empty when the store is sound.
    public var problems: [Problem]
    /// The readable service versions.
    public var versions: Int
    /// The blobs present.
    public var blobs: Int

    /// Whether nothing is wrong.
    public var isClean: Bool { self.problems.isEmpty }
}

extension FileStore {
    /// Checks the whole store without changing it: every manifest readable and referring to present,
    /// uncorrupted blobs with their reference markers; no orphan blobs or markers; no interrupted write.
    ///
    /// Reads every blob to check its checksum, so it takes time proportional to the store's size.
    public func verify() async throws -> StoreVerification {
        let layout = self.layout
        let lock = try await StoreLock(path: layout.lock, mode: .shared)
        defer { withExtendedLifetime(lock) {} }
        return try await StoreIO.run {
            var problems: [StoreVerification.Problem] = []
            func report(_ kind: StoreVerification.Problem.Kind, _ path: String, _ detail: String) {
                let relative = path.hasPrefix(layout.root + "/") ? String(path.dropFirst(layout.root.count + 1)) : path
                problems.append(.init(kind: kind, path: relative, detail: detail))
            }

            // Manifests, and the blob references they make.
            var referenced: [String: Set<String>] = [:]  // hash -> "name@version"
            var versions = 0
            // Anything at the root beside the store's own files and directories.
            let own: Set<String> = ["mldeploy-store.json", "lock", "services", "blobs", "refs", "tmp", "intent.json", "changes.log"]
            for entry in try DurableFiles.list(layout.root).sorted() where !own.contains(entry) {
                report(.unexpectedFile, layout.root + "/" + entry, "not part of the store")
            }
            for name in try DurableFiles.list(layout.services).sorted() {
                let directory = layout.serviceDirectory(name)
                guard DurableFiles.isDirectory(directory) else {
                    report(.unexpectedFile, directory, "not a service directory")
                    continue
                }
                for file in try DurableFiles.list(directory).sorted() {
                    let path = directory + "/" + file
                    guard file.hasSuffix(".json") else {
                        report(.unexpectedFile, path, "not a manifest")
                        continue
                    }
                    do {
                        guard let bytes = try DurableFiles.read(path) else { continue }
                        let manifest = try Manifest(bytes: bytes)
                        guard manifest.info.name == name, manifest.info.version + ".json" == file else {
                            report(.unreadableManifest, path, "describes \(manifest.info.name)/\(manifest.info.version), not the version its path names")
                            continue
                        }
                        versions += 1
                        for hash in manifest.blobHashes {
                            referenced[hash, default: []].insert("\(name)@\(manifest.info.version)")
                        }
                    } catch {
                        report(.unreadableManifest, path, "\(error)")
                    }
                }
            }

            // Blobs: present, correct, referenced.
            var blobCount = 0
            var present = Set<String>()
            for prefix in try DurableFiles.list(layout.blobs).sorted() {
                guard DurableFiles.isDirectory(layout.blobs + "/" + prefix) else {
                    report(.unexpectedFile, layout.blobs + "/" + prefix, "not a blob directory")
                    continue
                }
                for file in try DurableFiles.list(layout.blobs + "/" + prefix).sorted() {
                    let path = layout.blobs + "/" + prefix + "/" + file
                    guard Manifest.isHash(file), file.hasPrefix(prefix) else {
                        report(.unexpectedFile, path, "not a blob")
                        continue
                    }
                    blobCount += 1
                    present.insert(file)
                    // Mapped, not read: a multi-gigabyte model is hashed without being held in memory.
                    let bytes: Data
                    do {
                        bytes = try Self.mapBlob(path)
                    } catch {
                        report(.missingBlob, path, "present but unreadable: \(error)")
                        continue
                    }
                    let actual = SHA256.hex(bytes)
                    if actual != file { report(.checksumMismatch, path, "its content hashes to \(actual)") }
                    if referenced[file] == nil { report(.orphanBlob, path, "no manifest refers to it") }
                }
            }
            for (hash, users) in referenced.sorted(by: { $0.key < $1.key }) where !present.contains(hash) {
                report(.missingBlob, layout.blob(hash), "referred to by \(users.sorted().joined(separator: ", "))")
            }

            // Reference markers agree with the manifests.
            var markers: [String: Set<String>] = [:]
            for hash in try DurableFiles.list(layout.refs).sorted() {
                guard DurableFiles.isDirectory(layout.referenceDirectory(hash)) else {
                    report(.unexpectedFile, layout.referenceDirectory(hash), "not a reference directory")
                    continue
                }
                for marker in try DurableFiles.list(layout.referenceDirectory(hash)) {
                    markers[hash, default: []].insert(marker)
                    if referenced[hash]?.contains(marker) != true {
                        report(.orphanReference, layout.referenceDirectory(hash) + "/" + marker, "that version does not refer to this blob")
                    }
                }
            }
            for (hash, users) in referenced.sorted(by: { $0.key < $1.key }) {
                for user in users.sorted() where markers[hash]?.contains(user) != true {
                    report(.missingReference, layout.referenceDirectory(hash) + "/" + user, "the version refers to the blob but the marker is missing")
                }
            }

            // Interrupted writes.
            if DurableFiles.exists(layout.intent) { report(.interruptedWrite, layout.intent, "a write was interrupted; opening the store for writing recovers it") }
            for leftover in try DurableFiles.list(layout.tmp) {
                report(.interruptedWrite, layout.tmp + "/" + leftover, "a temporary file of an interrupted write")
            }
            return StoreVerification(problems: problems, versions: versions, blobs: blobCount)
        }
    }
}
