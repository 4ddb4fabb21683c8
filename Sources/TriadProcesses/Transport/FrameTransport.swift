import SystemPackage
import TriadCore

// The small abstraction the worker loop runs over. A transport delivers whole frames in order and sends messages
// made of byte segments. Pipes and socketpairs implement it here; an MPI backend or a shared-memory ring can
// implement it without touching the worker loop.

/// Where a worker gets its frames from.
package protocol FrameSource {
    /// Waits for the next frame. Returns `nil` when the stream ended cleanly between frames.
    ///
    /// - Throws: `WireError` for a corrupt, oversized or truncated frame, or ``TransportError`` when the
    ///   transport itself failed.
    mutating func receive() throws -> ReceivedFrame?

    /// Whether a whole frame is already buffered, so ``receive()`` would not wait.
    var hasBufferedFrame: Bool { get }

    /// Lets go of a data frame returned by ``receive()`` once its payload has been decoded: a payload read in
    /// place in a shared lane (see `ReceivedFrame`) must not be touched afterwards.
    mutating func release(_ frame: ReceivedFrame)
}

extension FrameSource {
    package func release(_ frame: ReceivedFrame) {}
}

/// Where a worker sends its frames to.
package protocol FrameSink {
    /// Sends a message, all or nothing from the caller's view: it returns once every byte is handed over.
    mutating func send(_ message: OutgoingMessage) throws

    /// Records, where the parent can read it even after a crash, that job `ordinal` of the message `sequence`
    /// starts now; with `timed`, when it starts too.
    func jobWillStart(sequence: UInt64, ordinal: Int, timed: Bool)
}

extension FrameSink {
    /// The smallest array an output leaves out of line when it is encoded (see `WireChunk`).
    package var borrowMinimum: Int? { OutgoingMessage.borrowMinimum }
}

/// A transport failure below the frames: a system call that failed.
package struct TransportError: Error, CustomStringConvertible {
    package var operation: String
    package var errno: Errno

    package var description: String { "\(operation) failed: \(errno)" }
}

/// A message as a list of byte segments, written in order. Small frames are packed together in one segment; large
/// payloads keep their own segment, so they are written from where they are without a copy.
package struct OutgoingMessage: Sendable {
    /// Payloads up to this size are copied into the packed segment; larger ones travel as their own segment.
    package static let copyLimit = 4096

    package private(set) var segments: [OutgoingSegment] = []
    package private(set) var byteCount = 0

    package init() {}

    /// Makes a message of these segments, for a transport that rewrites frames (see `SharedFrameLanes`).
    package init(segments: [OutgoingSegment]) {
        self.segments = segments
        byteCount = segments.reduce(0) { $0 + $1.count }
    }

    /// Appends a frame whose payload is `payload`.
    package mutating func appendFrame(kind: UInt8, flags: UInt8 = 0, payload: [UInt8]) {
        var header = takePacked(reserving: Frame.headerSize + min(payload.count, OutgoingMessage.copyLimit))
        Frame.appendHeader(kind: kind, flags: flags, length: payload.count, to: &header)
        if payload.count <= OutgoingMessage.copyLimit {
            header.append(contentsOf: payload)
            putPacked(header)
        } else {
            putPacked(header)
            segments.append(OutgoingSegment(payload))
            packedIsOpen = false
        }
        byteCount += Frame.headerSize + payload.count
    }

    /// Appends bytes that already hold whole frames.
    package mutating func appendEncodedFrames(_ bytes: [UInt8]) {
        var packed = takePacked(reserving: bytes.count)
        packed.append(contentsOf: bytes)
        putPacked(packed)
        byteCount += bytes.count
    }

    /// Appends bytes that hold whole frames as a segment of their own, without copying them.
    package mutating func appendSegment(_ bytes: [UInt8]) {
        segments.append(OutgoingSegment(bytes))
        byteCount += bytes.count
        packedIsOpen = bytes.count < OutgoingMessage.copyLimit
    }

    /// Appends a segment as it is, without copying it.
    package mutating func appendSegment(_ segment: OutgoingSegment) {
        segments.append(segment)
        byteCount += segment.count
        packedIsOpen = false
    }

    /// Appends another message's segments after this one's.
    package mutating func append(_ other: OutgoingMessage) {
        for segment in other.segments { segments.append(segment) }
        byteCount += other.byteCount
        packedIsOpen = false
    }

    package var isEmpty: Bool { byteCount == 0 }

    // The last segment is the packed one when it is small enough to grow; otherwise a new one starts.
    private var packedIsOpen = false

    private mutating func takePacked(reserving: Int) -> [UInt8] {
        if packedIsOpen, let last = segments.last?.wholeArray {
            // Appending grows the array geometrically; reserving an exact size here would copy it every time.
            segments.removeLast()
            packedIsOpen = false
            return last
        }
        var fresh: [UInt8] = []
        fresh.reserveCapacity(max(256, reserving))
        return fresh
    }

    private mutating func putPacked(_ bytes: [UInt8]) {
        segments.append(OutgoingSegment(bytes))
        packedIsOpen = true
    }

    /// Drops the first `count` bytes, after a partial write.
    package mutating func dropFirst(_ count: Int) {
        var remaining = count
        byteCount -= count
        var index = 0
        while remaining > 0, index < segments.count {
            let size = segments[index].count
            if size <= remaining {
                remaining -= size
                index += 1
            } else {
                segments[index].dropFirst(remaining)
                remaining = 0
            }
        }
        segments.removeFirst(index)
        if segments.isEmpty { packedIsOpen = false }
    }
}
