#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

// Large arrays without extra copies, for the transports of the model modules.
//
// Encoding: `encode(_:appendingTo:borrowingFrom:)` leaves the bytes of every large array of numbers (and `Data`) out
// of the buffer and returns them as chunks that borrow their own storage, each with the position where it belongs.
// A transport writes the buffer and the chunks in order (into shared memory, or with one `writev`), so a 64 MiB
// array is copied once on its way out instead of twice. The bytes are exactly those of a plain encoding.
//
// Decoding: a fresh array of at least `WireLargeBuffers.minimumBytes` is handed to a preparer before it is filled,
// so a model module can ask its platform for huge pages there. The core itself stays free of platform code.

/// The bytes of a large array (or `Data`) left out of an encoding's buffer, borrowed from it.
package struct WireChunk: @unchecked Sendable {
    // Sendable: `owner` is the array or `Data` itself, an immutable Sendable value. It keeps the storage behind
    // `bytes` alive and unchanged for as long as the chunk exists (a mutation elsewhere copies it first).
    private let owner: any Sendable
    /// The array's bytes, as they appear in the encoding.
    package let bytes: UnsafeRawBufferPointer
    /// Where the bytes belong: how many bytes of the buffer come before them.
    package let position: Int

    fileprivate init<Element: WireBulkElement>(_ array: [Element], position: Int) {
        owner = array
        // A native array's storage does not move while the array is retained, and `owner` retains it.
        bytes = array.withUnsafeBytes { $0 }
        self.position = position
    }

    fileprivate init(_ data: Data, position: Int) {
        owner = data
        // A large `Data` keeps its bytes in a heap buffer that does not move while `owner` retains it unchanged.
        bytes = data.withUnsafeBytes { $0 }
        self.position = position
    }
}

/// An encoding whose large arrays may be left out of line: the buffer and the chunks that go into it.
package struct WireEncoded: Sendable {
    /// The encoding without its chunks.
    package var bytes: [UInt8]
    /// The chunks, in order of position.
    package var chunks: [WireChunk]

    package init(bytes: [UInt8], chunks: [WireChunk] = []) {
        self.bytes = bytes
        self.chunks = chunks
    }

    /// The size of the whole encoding.
    package var count: Int { chunks.reduce(bytes.count) { $0 + $1.bytes.count } }

    /// The whole encoding in one array (a copy; for callers that need it contiguous).
    package var joined: [UInt8] {
        guard !chunks.isEmpty else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var next = 0
        for chunk in chunks {
            result.append(contentsOf: bytes[next..<chunk.position])
            result.append(contentsOf: chunk.bytes)
            next = chunk.position
        }
        result.append(contentsOf: bytes[next...])
        return result
    }
}

/// Collects the chunks of one encoding; a plain encoding borrows nothing.
struct WireOutOfLine {
    var minimumBytes = Int.max
    var chunks: [WireChunk] = []

    /// Takes `array` out of line if it is large enough; returns whether it did.
    mutating func borrow<Element: WireBulkElement>(_ array: [Element], at position: Int) -> Bool {
        guard array.count * MemoryLayout<Element>.stride >= minimumBytes else { return false }
        chunks.append(WireChunk(array, position: position))
        return true
    }

    /// Takes `data` out of line if it is large enough; returns whether it did.
    mutating func borrow(_ data: Data, at position: Int) -> Bool {
        guard data.count >= minimumBytes else { return false }
        chunks.append(WireChunk(data, position: position))
        return true
    }
}

extension WireEncoder {
    /// Encodes a value at the end of `bytes`, leaving every array of fixed-width numbers of at least
    /// `minimumBytes` bytes out of the buffer. Returns those arrays as chunks, with positions in `bytes`.
    ///
    /// - Throws: ``WireError`` with ``WireError/Code/encodingFailed`` if the value's conformance throws.
    package func encode<T: Encodable>(
        _ value: T,
        appendingTo bytes: inout [UInt8],
        borrowingFrom minimumBytes: Int
    ) throws(WireError) -> [WireChunk] {
        // A type with its own wire functions writes its arrays itself, inline.
        if try encodeNatively(value, route: WirePath.forEncoding(T.self), appendingTo: &bytes) { return [] }
        let sink = try WireSink.encode(value, appendingTo: &bytes) { $0.outOfLine.minimumBytes = max(1, minimumBytes) }
        return sink.outOfLine.chunks
    }

    /// Encodes a value as ``encode(_:appendingTo:borrowingFrom:)`` does, along a plan made for its type once, so
    /// that a caller that encodes many values of one type, one at a time, does not look the type's path up for
    /// each, nor build a sink and its containers for each (see ``WireEncodingPlan``).
    ///
    /// - Precondition: `plan` was made for `T`.
    package func encode<T: Encodable>(
        _ value: T,
        plan: WireEncodingPlan,
        appendingTo bytes: inout [UInt8],
        borrowingFrom minimumBytes: Int
    ) throws(WireError) -> [WireChunk] {
        // A type with its own wire functions writes its arrays itself, inline.
        if try encodeNatively(value, route: plan.route, appendingTo: &bytes) { return [] }
        let sink = plan.takeSink()
        defer { plan.giveBack(sink) }
        sink.outOfLine.minimumBytes = max(1, minimumBytes)
        try sink.encode(value, appendingTo: &bytes)
        return sink.outOfLine.chunks
    }

    /// Encodes a value, leaving arrays of at least `minimumBytes` bytes out of line, or none for `nil`.
    ///
    /// - Throws: ``WireError`` with ``WireError/Code/encodingFailed`` if the value's conformance throws.
    package func encoded<T: Encodable>(_ value: T, borrowingFrom minimumBytes: Int?) throws(WireError) -> WireEncoded {
        var bytes: [UInt8] = []
        guard let minimumBytes else {
            try encode(value, appendingTo: &bytes)
            return WireEncoded(bytes: bytes)
        }
        let chunks = try encode(value, appendingTo: &bytes, borrowingFrom: minimumBytes)
        return WireEncoded(bytes: bytes, chunks: chunks)
    }
}

/// How the codec prepares a fresh, large array before it copies decoded bytes into it.
package enum WireLargeBuffers {
    /// The smallest array, in bytes, handed to the preparer.
    package static let minimumBytes = 4 << 20

    private static let preparer = Mutex<(@Sendable (UnsafeMutableRawBufferPointer) -> Void)?>(nil)

    /// Installs the function that prepares large arrays (for example, asks for huge pages), replacing any
    /// earlier one. It gets uninitialized memory, which it must not read; it may write it.
    package static func install(_ prepare: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void) {
        preparer.withLock { $0 = prepare }
    }

    /// Prepares `buffer` if it is large enough and a preparer is installed.
    static func prepare(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count >= minimumBytes, let prepare = preparer.withLock({ $0 }) else { return }
        prepare(buffer)
    }

    /// A `Data` holding a copy of `bytes` in a buffer the preparer has seen, or nil when `bytes` is too small or no
    /// preparer is installed (then a plain `Data` does).
    static func data(copying bytes: UnsafeRawBufferPointer) -> Data? {
        guard bytes.count >= minimumBytes, let prepare = preparer.withLock({ $0 }) else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
        prepare(buffer)
        buffer.copyMemory(from: bytes)
        return Data(bytesNoCopy: buffer.baseAddress!, count: buffer.count, deallocator: .custom { pointer, _ in
            pointer.deallocate()
        })
    }
}
