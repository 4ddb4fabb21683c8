#if os(Linux)
import TriadCore
import TriadProcesses

/// A received worker-protocol message: its frames in one buffer, which the frames handed out point into, or in the
/// sender's shared-memory lane, for the large frames it moved there.
///
/// Not Sendable: it is made and read on the engine's thread (rank 0) or handed once to the worker loop's task
/// through the inbox, which keeps it alive for as long as a frame of it may be read.
final class InboundFrames: @unchecked Sendable {
    // Unchecked: the buffer is written once, before the message is handed on, and only read after; `pinned` is
    // changed only by `frames(maxPayload:)`, on the one thread that reads the message.
    let source: Int
    let timeoutNanoseconds: UInt64
    private let buffer: UnsafeMutableRawBufferPointer
    private let start: Int
    private let owner: UnsafeMutableRawBufferPointer
    private let recycle: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?
    /// This rank's lanes, where the frames the sender moved to shared memory lie.
    private let lanes: ClusterLanes?
    /// The sender's lanes and how many frames were left in place there, released together when the message goes.
    private var pinned: (lanes: SharedFrameLanes, count: Int)?

    /// A message whose bytes are `buffer`, its frames from `start` on, in memory it takes over from `owner`.
    init(
        source: Int,
        timeoutNanoseconds: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        start: Int,
        owner: UnsafeMutableRawBufferPointer,
        recycle: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)? = nil,
        lanes: ClusterLanes? = nil
    ) {
        self.source = source
        self.timeoutNanoseconds = timeoutNanoseconds
        self.buffer = buffer
        self.start = start
        self.owner = owner
        self.recycle = recycle
        self.lanes = lanes
    }

    deinit {
        if let recycle { recycle(owner) } else { owner.deallocate() }
        if let pinned { pinned.lanes.release(pinned.count) }
    }

    /// The frames, their payloads left in place in the buffer or in the sender's lane: valid while this message
    /// lives.
    ///
    /// - Throws: `WireError` when the bytes are not whole frames, or a frame in shared memory is out of its lane or
    ///   came from a rank that shares no lanes with this one.
    func frames(maxPayload: Int = Frame.defaultMaxPayload) throws(WireError) -> [ReceivedFrame] {
        var frames: [ReceivedFrame] = []
        var position = start
        let bytes = UnsafeRawBufferPointer(buffer)
        while position < bytes.count {
            guard bytes.count - position >= Frame.headerSize else {
                throw WireError(.truncated, "a cluster message ends inside a frame header")
            }
            let header = try Frame.parseHeader(
                UnsafeRawBufferPointer(rebasing: bytes[position..<position + Frame.headerSize]),
                maxPayload: maxPayload
            )
            let payloadStart = position + Frame.headerSize
            guard bytes.count - payloadStart >= header.length else {
                throw WireError(.truncated, "a cluster message ends inside a frame's payload")
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart + header.length])
            position = payloadStart + header.length
            guard header.kind == WorkerFrameKind.sharedData else {
                frames.append(ReceivedFrame(kind: header.kind, flags: header.flags, inLane: payload))
                continue
            }
            guard let shared = pinned?.lanes ?? lanes?.lanes(from: source) else {
                throw WireError(.corruptFrame, "rank \(source) sent a frame in shared memory but shares no lanes")
            }
            let reference = Frame(kind: header.kind, flags: header.flags, payload: [UInt8](payload))
            frames.append(try shared.resolve(reference, inPlace: true, everyKind: true))
            if pinned == nil { lanes?.countReceived() }
            pinned = (shared, (pinned?.count ?? 0) + 1)
        }
        return frames
    }
}
#endif
