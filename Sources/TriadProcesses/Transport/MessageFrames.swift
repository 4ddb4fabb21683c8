import TriadCore

// Frames seen across a message's segments, and frames whose payload was left in place in shared memory.

/// A frame found in an outgoing message: where its header starts (a byte offset in the message) and what it says.
struct MessageFrame {
    var start: Int
    var kind: UInt8
    var flags: UInt8
    var length: Int

    /// Where the payload lies in the message.
    var payload: Range<Int> { start + Frame.headerSize..<start + Frame.headerSize + length }
}

extension OutgoingMessage {
    /// The message's frames, or nil if its bytes are not a sequence of whole frames. A frame's header or payload
    /// may span several segments.
    func frames() -> [MessageFrame]? {
        var found: [MessageFrame] = []
        var header = [UInt8](repeating: 0, count: Frame.headerSize)
        var index = 0
        var segmentStart = 0
        var position = 0
        while position < byteCount {
            guard byteCount - position >= Frame.headerSize else { return nil }
            while segmentStart + segments[index].count <= position {
                segmentStart += segments[index].count
                index += 1
            }
            // Gather the header, which usually lies in one segment.
            var filled = 0
            var gatherIndex = index
            var gatherStart = segmentStart
            while filled < Frame.headerSize {
                let segment = segments[gatherIndex]
                let from = position + filled - gatherStart
                let take = min(Frame.headerSize - filled, segment.count - from)
                segment.withUnsafeBytes { source in
                    header.withUnsafeMutableBytes { target in
                        (target.baseAddress! + filled).copyMemory(from: source.baseAddress! + from, byteCount: take)
                    }
                }
                filled += take
                gatherStart += segment.count
                gatherIndex += 1
            }
            let parsed = header.withUnsafeBytes { try? Frame.parseHeader($0, maxPayload: .max) }
            guard let parsed, byteCount - position - Frame.headerSize >= parsed.length else { return nil }
            found.append(MessageFrame(start: position, kind: parsed.kind, flags: parsed.flags, length: parsed.length))
            position += Frame.headerSize + parsed.length
        }
        return found
    }

    /// Views of the bytes of `range` of the message, one per segment they touch, without copying them.
    func segments(covering range: Range<Int>) -> [OutgoingSegment] {
        var result: [OutgoingSegment] = []
        var segmentStart = 0
        for segment in segments {
            let segmentEnd = segmentStart + segment.count
            defer { segmentStart = segmentEnd }
            if segmentEnd <= range.lowerBound || segment.count == 0 { continue }
            if segmentStart >= range.upperBound { break }
            let lower = max(range.lowerBound, segmentStart) - segmentStart
            let upper = min(range.upperBound, segmentEnd) - segmentStart
            result.append(lower == 0 && upper == segment.count ? segment : segment.slice(lower..<upper))
        }
        return result
    }
}

/// A frame as a transport received it: its payload in an array of its own, or left in place in a shared lane.
///
/// A payload left in place is a view of memory that the peer writes: it is valid only until its lane releases it,
/// which the receiver does once it has decoded it (see `SharedFrameLanes.release(_:)` and
/// `FrameSource.release(_:)`). So this type is neither `Sendable` nor `Hashable`: it cannot cross to another
/// thread, be kept as a key or compared, and nothing in a ``Frame`` (which is all three) ever holds an address.
/// Keep a payload past its release with ``owned``.
package struct ReceivedFrame {
    private enum Storage {
        case owned([UInt8])
        case inLane(UnsafeRawBufferPointer)
    }

    /// The kind the frame was sent with.
    package let kind: UInt8
    /// The flags it was sent with.
    package let flags: UInt8
    private let storage: Storage

    /// A frame whose payload is its own.
    package init(_ frame: Frame) {
        kind = frame.kind
        flags = frame.flags
        storage = .owned(frame.payload)
    }

    /// A frame whose payload stays where it is, in a shared lane. Made only by `SharedFrameLanes.resolve`.
    package init(kind: UInt8, flags: UInt8, inLane bytes: UnsafeRawBufferPointer) {
        self.kind = kind
        self.flags = flags
        storage = .inLane(bytes)
    }

    /// Whether the payload was left in place in a shared lane, and must be released once decoded.
    package var isInLane: Bool {
        if case .inLane = storage { return true }
        return false
    }

    /// Calls `body` with the payload's bytes, wherever they lie. Bytes in a lane are valid only until the lane
    /// releases them, so `body` must not keep them.
    package func withPayloadBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch storage {
        case .owned(let payload):
            let result = payload.withUnsafeBytes { bytes in Result { () throws(E) in try body(bytes) } }
            return try result.get()
        case .inLane(let bytes):
            return try body(bytes)
        }
    }

    /// The payload as an array: the frame's own, or a copy of the bytes in the lane.
    package var payload: [UInt8] {
        switch storage {
        case .owned(let payload): payload
        case .inLane(let bytes): [UInt8](bytes)
        }
    }

    /// The frame with its payload in an array of its own, for keeping it after its lane releases it.
    package var owned: Frame { Frame(kind: kind, flags: flags, payload: payload) }
}
