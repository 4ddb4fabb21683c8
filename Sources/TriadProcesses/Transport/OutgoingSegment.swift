import TriadCore

/// One piece of an outgoing message: a byte array, or the bytes of a large array that the codec borrowed instead
/// of copying (a `WireChunk`), seen through a range so that slicing and partial writes copy nothing.
package struct OutgoingSegment: Sendable {
    private enum Storage: Sendable {
        case bytes([UInt8])
        case chunk(WireChunk)
    }

    private var storage: Storage
    private(set) var range: Range<Int>

    package init(_ bytes: [UInt8]) {
        storage = .bytes(bytes)
        range = 0..<bytes.count
    }

    package init(_ chunk: WireChunk) {
        storage = .chunk(chunk)
        range = 0..<chunk.bytes.count
    }

    package var count: Int { range.count }

    /// The whole byte array this segment is, if it is one (the packed segment of a message grows this way).
    var wholeArray: [UInt8]? {
        guard case .bytes(let bytes) = storage, range == 0..<bytes.count else { return nil }
        return bytes
    }

    /// Calls `body` with the segment's bytes.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        case .chunk(let chunk):
            return try body(UnsafeRawBufferPointer(rebasing: chunk.bytes[range]))
        }
    }

    /// The bytes at `bounds`, relative to the segment's start, without copying them.
    package func slice(_ bounds: Range<Int>) -> OutgoingSegment {
        precondition(bounds.lowerBound >= 0 && bounds.upperBound <= count)
        var copy = self
        copy.range = range.lowerBound + bounds.lowerBound..<range.lowerBound + bounds.upperBound
        return copy
    }

    /// Drops the first `count` bytes, after a partial write.
    mutating func dropFirst(_ count: Int) {
        range = range.lowerBound + Swift.min(count, self.count)..<range.upperBound
    }

    /// The segment's bytes in an array of their own (a copy, unless the segment is a whole array).
    package var bytes: [UInt8] {
        if let wholeArray { return wholeArray }
        return withUnsafeBytes { [UInt8]($0) }
    }
}

extension OutgoingMessage {
    /// The smallest array the codec leaves out of line when it encodes a message: larger arrays travel from their
    /// own storage (into a shared lane, or with `writev`) instead of being copied into the frame first.
    package static let borrowMinimum = 64 << 10

    /// Appends `bytes`, which hold whole frames once `chunks` are put in at their positions, without copying either.
    package mutating func appendInterleaved(_ bytes: [UInt8], chunks: [WireChunk]) {
        guard !chunks.isEmpty else { return appendSegment(bytes) }
        var next = 0
        for chunk in chunks {
            if chunk.position > next { appendSegment(OutgoingSegment(bytes).slice(next..<chunk.position)) }
            appendSegment(OutgoingSegment(chunk))
            next = chunk.position
        }
        if next < bytes.count { appendSegment(OutgoingSegment(bytes).slice(next..<bytes.count)) }
    }

    /// Appends a frame whose payload is an encoding, its large arrays included without a copy.
    package mutating func appendFrame(kind: UInt8, flags: UInt8 = 0, encoded: WireEncoded) {
        guard !encoded.chunks.isEmpty else { return appendFrame(kind: kind, flags: flags, payload: encoded.bytes) }
        var header: [UInt8] = []
        Frame.appendHeader(kind: kind, flags: flags, length: encoded.count, to: &header)
        appendEncodedFrames(header)
        appendInterleaved(encoded.bytes, chunks: encoded.chunks)
    }
}
