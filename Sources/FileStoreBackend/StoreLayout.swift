import ServiceRuntime

/// Where everything lives under a store's root (format version 1):
///
/// ```
/// ROOT/mldeploy-store.json            the format marker: {"format": "mldeploy-filestore", "version": 1}
/// ROOT/lock                           flock target: shared for readers, exclusive for writers
/// ROOT/services/NAME/VERSION.json     one manifest per service version (all metadata, schema, code)
/// ROOT/blobs/AB/SHA256                content-addressed blobs: objects, models, realtime models
/// ROOT/refs/SHA256/NAME@VERSION       one empty marker per version that references a blob
/// ROOT/tmp/                           temporary files of atomic writes
/// ROOT/intent.json                    present only while a write is in progress (crash recovery)
/// ROOT/changes.log                    one line per committed change, naming the service: how other
///                                     processes' caches learn what changed
/// ```
///
/// Names and versions follow ``MLDeploy/NameRules`` (no `/`, no `..`, no leading `.`, no `@`), so
/// they are safe as single path components, and `@` separates them in reference markers.
struct StoreLayout: Sendable {
    /// The store's format name, written in the marker.
    static let formatName = "mldeploy-filestore"
    /// The format version this code writes and reads (that of its manifests).
    static let formatVersion = Manifest.formatVersion

    let root: String

    var marker: String { self.root + "/mldeploy-store.json" }
    var lock: String { self.root + "/lock" }
    var services: String { self.root + "/services" }
    var blobs: String { self.root + "/blobs" }
    var refs: String { self.root + "/refs" }
    var tmp: String { self.root + "/tmp" }
    var intent: String { self.root + "/intent.json" }
    var changes: String { self.root + "/changes.log" }

    func serviceDirectory(_ name: String) -> String { self.services + "/" + name }
    func manifest(_ name: String, _ version: String) -> String { self.serviceDirectory(name) + "/" + version + ".json" }
    func blobDirectory(_ hash: String) -> String { self.blobs + "/" + hash.prefix(2) }
    func blob(_ hash: String) -> String { self.blobDirectory(hash) + "/" + hash }
    func referenceDirectory(_ hash: String) -> String { self.refs + "/" + hash }
    func reference(_ hash: String, _ name: String, _ version: String) -> String {
        self.referenceDirectory(hash) + "/" + name + "@" + version
    }
}
