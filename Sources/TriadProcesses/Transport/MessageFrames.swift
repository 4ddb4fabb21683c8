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

extension Frame {
    /// A frame whose payload stays where it is, in a shared lane: the kind carries `WorkerFrameKind.mapped`, and
    /// the payload holds the address and byte count. Made only by `SharedFrameLanes.resolve(_:inPlace:)`.
    static func mapped(kind: UInt8, flags: UInt8, bytes: UnsafeRawBufferPointer) -> Frame {
        var payload: [UInt8] = []
        payload.reserveCapacity(16)
        appendInteger(UInt64(UInt(bitPattern: bytes.baseAddress)), to: &payload)
        appendInteger(UInt64(bytes.count), to: &payload)
        return Frame(kind: kind | WorkerFrameKind.mapped, flags: flags, payload: payload)
    }

    /// Whether the payload was left in place in a shared lane.
    var isMapped: Bool { kind & WorkerFrameKind.mapped != 0 }

    /// The kind the frame was sent with, whether or not its payload was left in place.
    var sentKind: UInt8 { kind & ~WorkerFrameKind.mapped }

    /// Calls `body` with the payload's bytes, wherever they lie. A mapped frame's bytes are valid only until its
    /// lane releases it, so `body` must not keep them.
    func withPayloadBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        guard isMapped else {
            let result = payload.withUnsafeBytes { bytes in Result { () throws(E) in try body(bytes) } }
            return try result.get()
        }
        let address: UInt64 = readInteger(payload, at: 0)
        let count: UInt64 = readInteger(payload, at: 8)
        return try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(address)), count: Int(count)))
    }

    /// The frame with its payload in an array of its own, for keeping it after its lane releases it.
    var materialized: Frame {
        guard isMapped else { return self }
        return Frame(kind: sentKind, flags: flags, payload: withPayloadBytes { [UInt8]($0) })
    }

    /// Refuses a frame from a peer that claims to be mapped: only this process may make one.
    ///
    /// - Throws: ``WireError/Code/corruptFrame``.
    static func refuseMapped(_ frame: Frame) throws(WireError) {
        guard !frame.isMapped else {
            throw WireError(.corruptFrame, "a frame of kind \(frame.kind) is not one a peer may send")
        }
    }
}
