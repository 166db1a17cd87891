import Foundation
import MLDeploy
import Synchronization

/// The body of a request or a response: bytes in memory, or a stream of chunks.
///
/// Bytes can be sent any number of times, so requests with them can be retried and replayed after
/// a token refresh. A stream can be read **once** (``IterationBehavior/single``): the retry and auth
/// middlewares never replay a request whose body is a stream.
///
/// A body is an `AsyncSequence` of byte chunks; ``collect(upTo:)`` gathers it.
public struct HTTPBody: Sendable, AsyncSequence {
    /// A chunk of bytes.
    public typealias Element = [UInt8]
    /// Any error the source throws.
    public typealias Failure = any Error

    /// Whether a body can be read more than once.
    public enum IterationBehavior: Sendable, Hashable {
        /// Read once (a stream).
        case single
        /// Read any number of times (bytes in memory).
        case multiple
    }

    enum Storage: Sendable {
        case bytes([UInt8])
        case stream(SingleUseStream)
    }

    let storage: Storage

    /// The length in bytes, when known in advance.
    public let length: Int?

    /// Bytes in memory.
    public static func bytes(_ bytes: [UInt8]) -> HTTPBody {
        HTTPBody(storage: .bytes(bytes), length: bytes.count)
    }

    /// Bytes in memory, from `Data`.
    public static func data(_ data: Data) -> HTTPBody {
        .bytes(Array(data))
    }

    /// UTF-8 text.
    public static func string(_ text: String) -> HTTPBody {
        .bytes(Array(text.utf8))
    }

    /// A stream of chunks, read once, as it is sent. Give `length` when known: without it, HTTP/1.1
    /// uploads use chunked transfer encoding.
    public static func stream<Source: AsyncSequence & Sendable>(_ source: Source, length: Int? = nil) -> HTTPBody
    where Source.Element == [UInt8] {
        let stream = SingleUseStream {
            var iterator = source.makeAsyncIterator()
            return { try await iterator.next() }
        }
        return HTTPBody(storage: .stream(stream), length: length)
    }

    init(storage: Storage, length: Int?) {
        self.storage = storage
        self.length = length
    }

    /// ``IterationBehavior/multiple`` for bytes, ``IterationBehavior/single`` for streams.
    public var iterationBehavior: IterationBehavior {
        if case .bytes = self.storage { return .multiple }
        return .single
    }

    /// The bytes, when the body is in memory.
    public var bufferedBytes: [UInt8]? {
        if case .bytes(let bytes) = self.storage { return bytes }
        return nil
    }

    /// Reads the whole body into memory.
    ///
    /// - Parameter maximum: The most bytes accepted.
    /// - Throws: ``MLDeploy/MLDeployError/Code/responseTooLarge`` beyond `maximum`; what the source throws.
    public func collect(upTo maximum: Int) async throws -> [UInt8] {
        if let bytes = self.bufferedBytes {
            guard bytes.count <= maximum else { throw Self.tooLarge(maximum) }
            return bytes
        }
        var collected: [UInt8] = []
        if let length = self.length { collected.reserveCapacity(Swift.min(length, maximum)) }
        for try await chunk in self {
            guard collected.count + chunk.count <= maximum else { throw Self.tooLarge(maximum) }
            collected.append(contentsOf: chunk)
        }
        return collected
    }

    static func tooLarge(_ maximum: Int) -> MLDeployError {
        MLDeployError(code: .responseTooLarge, message: "The body is larger than the \(maximum)-byte limit; raise the limit or stream it.")
    }

    /// Iterates the chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var pending: [UInt8]?
        let pull: (() async throws -> [UInt8]?)?

        /// The next chunk, or `nil` at the end.
        public mutating func next() async throws -> [UInt8]? {
            if let pending = self.pending {
                self.pending = nil
                return pending.isEmpty ? nil : pending
            }
            return try await self.pull?()
        }
    }

    /// Starts reading. A stream's second reader gets an error at its first chunk.
    public func makeAsyncIterator() -> AsyncIterator {
        switch self.storage {
        case .bytes(let bytes):
            return AsyncIterator(pending: bytes, pull: nil)
        case .stream(let stream):
            return AsyncIterator(pending: nil, pull: stream.open())
        }
    }
}

/// A source that hands out its reader once.
final class SingleUseStream: Sendable {
    private let opened = Mutex(false)
    private let makeReader: @Sendable () -> () async throws -> [UInt8]?

    init(_ makeReader: @escaping @Sendable () -> () async throws -> [UInt8]?) {
        self.makeReader = makeReader
    }

    func open() -> () async throws -> [UInt8]? {
        let first = self.opened.withLock { opened in
            defer { opened = true }
            return !opened
        }
        guard first else {
            return { throw MLDeployError(code: .invalidRequest, message: "A streamed body can be read only once.") }
        }
        return self.makeReader()
    }
}
