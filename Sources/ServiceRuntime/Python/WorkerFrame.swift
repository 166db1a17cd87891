import MLDeploy

/// One message of the worker protocol: a JSON header and raw blobs (pickled objects).
///
/// On the wire: a 4-byte big-endian header length, the header's UTF-8 JSON (with `blob_sizes`
/// listing the blobs' lengths), then the blobs' bytes back to back.
struct WorkerFrame: Sendable {
    var header: JSONObject
    var blobs: [[UInt8]] = []

    /// The frame's bytes.
    func encoded() throws -> [UInt8] {
        var header = self.header
        header["blob_sizes"] = .array(self.blobs.map { .integer($0.count) })
        let json = try JSONValue.object(header).serializedBytes()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + json.count + self.blobs.reduce(0) { $0 + $1.count })
        let length = UInt32(json.count)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += json
        for blob in self.blobs { bytes += blob }
        return bytes
    }
}

/// Reassembles frames from the chunks a worker's stdout arrives in.
struct WorkerFrameReader {
    private var buffer: [UInt8] = []
    private var start = 0

    /// Adds bytes read from the worker.
    mutating func append(_ bytes: some Collection<UInt8>) {
        if self.start > 65536, self.start * 2 > self.buffer.count {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        self.buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, if the buffer holds one.
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/invalidResponse`` for a malformed frame.
    mutating func next() throws -> WorkerFrame? {
        let available = self.buffer.count - self.start
        guard available >= 4 else { return nil }
        let length = self.buffer[self.start..<(self.start + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard available >= 4 + length else { return nil }
        let headerBytes = Array(self.buffer[(self.start + 4)..<(self.start + 4 + length)])
        guard case .object(let header) = try JSONValue(parsing: headerBytes) else {
            throw MLDeployError(code: .invalidResponse, message: "The Python worker sent a frame whose header is not a JSON object.")
        }
        let sizes = header["blob_sizes"]?.arrayValue?.compactMap(\.intValue) ?? []
        let total = 4 + length + sizes.reduce(0, +)
        guard available >= total else { return nil }
        var offset = self.start + 4 + length
        var blobs: [[UInt8]] = []
        for size in sizes {
            blobs.append(Array(self.buffer[offset..<(offset + size)]))
            offset += size
        }
        self.start += total
        return WorkerFrame(header: header, blobs: blobs)
    }
}
