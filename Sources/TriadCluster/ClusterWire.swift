import TriadCore
import TriadProcesses

// How the worker protocol's messages travel between ranks. A message of frames (a job, a chunk, a result) goes as
// one MPI message with tag `frames`: a 16-byte envelope, then the frames. A message larger than `inlineLimit`
// sends its large segments (a big job's arrays, borrowed by the codec) as MPI messages of their own with tag
// `segment`, straight from where they lie; the envelope then lists the segments' sizes instead of holding the
// frames, and the receiver reads each one into place in a single buffer. The other tags carry the cluster's own
// small messages.

/// The MPI tags of the cluster's messages.
enum ClusterTag {
    /// Frames of the worker protocol, in an envelope.
    static let frames: Int32 = 11
    /// One segment of a large message whose envelope came first.
    static let segment: Int32 = 12
    /// A worker rank's greeting: its pid and host.
    static let hello: Int32 = 13
    /// A worker rank's report that jobs failed on its side (its local pool lost a worker): a `RankFailure`.
    static let failure: Int32 = 14
    /// Rank 0 to a worker rank: no more jobs; finish, say goodbye and end.
    static let stop: Int32 = 15
    /// A worker rank's last message before it finalises MPI.
    static let bye: Int32 = 16
    /// Rank 0 to a worker rank: cancel the message with this sequence number (a local pool kills its worker).
    static let cancel: Int32 = 17
    /// Rank 0 to every worker rank, first: how to run jobs (a `RankConfiguration`).
    static let configuration: Int32 = 18
    /// Shared-memory lanes between rank 0 and a worker rank on the same machine (a `RankLanes`): the worker's
    /// answer to the lane rank 0 offered, then rank 0's answer to the worker's.
    static let lanes: Int32 = 19
}

/// The envelope of a `frames` message: the jobs' timeout, and how many segments follow on their own.
struct FramesEnvelope: Equatable {
    static let size = 16
    /// A message up to this size travels whole in one MPI message.
    static let inlineLimit = 64 << 10

    /// The timeout of each job of the message, in nanoseconds; 0 for none.
    var timeoutNanoseconds: UInt64
    /// How many `segment` messages follow; 0 when the frames follow the envelope in the same message.
    var segments: UInt32

    func append(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: timeoutNanoseconds.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: segments.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(0)) { bytes.append(contentsOf: $0) }
    }

    init(timeoutNanoseconds: UInt64, segments: UInt32) {
        self.timeoutNanoseconds = timeoutNanoseconds
        self.segments = segments
    }

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        timeoutNanoseconds = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        segments = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    }
}

/// One MPI message to send: bytes of its own, or a segment of a worker-protocol message sent from where it lies.
enum OutboundPart: Sendable {
    case bytes([UInt8])
    case segment(OutgoingSegment)

    var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .segment(let segment): segment.count
        }
    }
}

/// MPI messages for one rank, sent in order.
struct Outbound: Sendable {
    var rank: Int
    var tag: Int32
    var parts: [OutboundPart]
    /// The worker-protocol message these parts carry, kept so that the engine can move its large frames into a
    /// shared-memory lane instead (see `ClusterLanes`); nil for the cluster's own messages.
    private(set) var frames: OutgoingMessage?
    /// The timeout the envelope carries, in nanoseconds; 0 for none.
    private(set) var timeoutNanoseconds: UInt64 = 0

    /// A small message of the cluster's own.
    init(rank: Int, tag: Int32, bytes: [UInt8] = []) {
        self.rank = rank
        self.tag = tag
        parts = [.bytes(bytes)]
    }

    /// A message of the worker protocol, in its envelope: whole when small, in segments when large. Small
    /// segments next to each other are packed together; large ones travel as they are, without a copy.
    init(rank: Int, frames message: OutgoingMessage, timeout: Duration? = nil) {
        let nanoseconds = timeout.map { max(1, $0.saturatingNanoseconds) } ?? 0
        self.init(rank: rank, frames: message, timeoutNanoseconds: nanoseconds)
    }

    /// A message of the worker protocol with its timeout in nanoseconds (0 for none); see
    /// ``init(rank:frames:timeout:)``.
    init(rank: Int, frames message: OutgoingMessage, timeoutNanoseconds: UInt64) {
        self.rank = rank
        tag = ClusterTag.frames
        frames = message
        self.timeoutNanoseconds = timeoutNanoseconds
        var envelope: [UInt8] = []
        if message.byteCount <= FramesEnvelope.inlineLimit {
            envelope.reserveCapacity(FramesEnvelope.size + message.byteCount)
            FramesEnvelope(timeoutNanoseconds: timeoutNanoseconds, segments: 0).append(to: &envelope)
            for segment in message.segments { segment.withUnsafeBytes { envelope.append(contentsOf: $0) } }
            parts = [.bytes(envelope)]
            return
        }
        var segments: [OutboundPart] = []
        var packed: [UInt8] = []
        for segment in message.segments {
            if segment.count >= FramesEnvelope.inlineLimit {
                if !packed.isEmpty { segments.append(.bytes(packed)) }
                packed = []
                segments.append(.segment(segment))
            } else {
                segment.withUnsafeBytes { packed.append(contentsOf: $0) }
            }
        }
        if !packed.isEmpty { segments.append(.bytes(packed)) }
        FramesEnvelope(timeoutNanoseconds: timeoutNanoseconds, segments: UInt32(segments.count)).append(to: &envelope)
        for segment in segments {
            withUnsafeBytes(of: UInt64(segment.count).littleEndian) { envelope.append(contentsOf: $0) }
        }
        parts = [.bytes(envelope)] + segments
    }
}

/// What a worker rank reports when jobs failed on its side rather than in their own code: its local pool lost the
/// worker that ran them (a crash, a timeout), or they were cancelled there.
struct RankFailure: Codable, Sendable, Equatable {
    var sequence: UInt64
    var first: Int
    var count: Int
    var code: String
    var message: String
}

/// How worker ranks run their jobs, sent by rank 0 first.
struct RankConfiguration: Codable, Sendable, Equatable {
    /// Worker processes of a local pool on each worker rank; 0 runs jobs in the rank itself.
    var localPoolWorkers: Int
    /// The largest frame payload, in bytes.
    var maxFrameSize: Int
    /// Frames from this size up travel through shared-memory lanes, when the ranks share a machine; nil for never.
    var sharedMemoryThreshold: Int?
    /// The lane rank 0 made for this rank, if it made one (see `ClusterLanes`).
    var lane: LaneOffer?
}

/// A shared-memory lane one rank made for another: the maker's pid, the lane's descriptor there, and the token the
/// lane holds for the opener to check.
struct LaneOffer: Codable, Sendable, Equatable {
    var pid: Int32
    var fd: Int32
    var token: [UInt8]
}

/// One side's part in setting up shared-memory lanes between rank 0 and a worker rank: from the worker, the lane it
/// made for rank 0 (nil when it could not open rank 0's); from rank 0, whether it opened the worker's lane.
struct RankLanes: Codable, Sendable, Equatable {
    var lane: LaneOffer?
    var accepted: Bool
}

/// A worker rank's greeting.
struct RankHello: Codable, Sendable, Equatable {
    var pid: Int32
    var host: String
}
