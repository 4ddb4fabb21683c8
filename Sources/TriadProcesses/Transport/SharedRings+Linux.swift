#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import SystemPackage
import TriadCore

// Frames between a pool and a worker travel through two rings in shared memory, one per direction, so that a job
// and its result cost no system call while both sides are awake. Each side spins briefly after its last frame,
// then yields, then parks (see `IdleSchedule`). The socket stays, for the worker's hello and as the doorbell: a
// side about to park raises its flag in the ring, checks the ring once more, and polls the socket; the peer,
// after it publishes bytes (or frees room), takes the flag and, if it was raised, sends one byte. The end of the
// socket still means the end of the peer. Large payloads keep going through the shared lanes, so a ring mostly
// carries headers, small jobs and references into a lane.
//
// The memfd that holds both rings is sealed against resizing and made afresh for each worker, so a worker that
// dies mid-write can corrupt nothing but its own rings, which the parent stops reading. Each side keeps its own
// position and checks the other's before use: a peer that scribbles on the control block is a protocol violation.

extension WorkerFrameKind {
    /// Parent to worker: no more jobs will come; the worker finishes what it has and exits. (The parent keeps the
    /// socket open, so the worker can still be woken while it sends its last results.)
    static let goodbye: UInt8 = 7
}

/// How a side waits when it has nothing to do: spin for `spinNanos` after its last activity, then yield the CPU
/// for `yieldNanos`, then park until the peer rings.
struct IdleSchedule: Sendable, Hashable {
    var spinNanos: UInt64
    var yieldNanos: UInt64

    /// The environment entry that hands the schedule to a worker.
    static let environmentKey = "TRIAD_WORKER_IDLE"

    /// The schedule in this worker's environment, or `fallback`.
    static func inherited(or fallback: IdleSchedule) -> IdleSchedule {
        guard let text = getenv(environmentKey).map({ String(cString: $0) }) else { return fallback }
        let parts = text.split(separator: ",").compactMap { UInt64($0) }
        guard parts.count == 2 else { return fallback }
        return IdleSchedule(spinNanos: parts[0], yieldNanos: parts[1])
    }
}

/// Whether the peer has a thread spinning for this side's next frame, and where (see `RingFlags.readerSpin`).
enum PeerSpin: Equatable {
    /// No thread of the peer spins.
    case none
    /// One spins on another CPU than this side's thread.
    case elsewhere
    /// One spins on this side's thread's CPU: it runs only when this side yields.
    case sameCPU
}

/// Counts how long a side has been idle and does one step of its schedule.
struct IdleWaiter {
    let schedule: IdleSchedule
    private var since: UInt64 = 0

    init(_ schedule: IdleSchedule) { self.schedule = schedule }

    /// Starts the schedule again: the side just did something.
    mutating func reset() { since = 0 }

    /// How long a side spins at least, within its schedule's span, while its peer has a thread spinning for its
    /// answer on another CPU (see ``pause(now:peer:)``). Short, because spinning where a yield would give the CPU
    /// away costs a loaded machine dearly: a spin through the whole span made the blocking round trip 10 to 100
    /// times slower while a build ran beside it.
    static let peerSpinNanos: UInt64 = 10_000

    /// One step of the schedule.
    enum Step: Equatable {
        case spin
        case yield
        case park
    }

    /// The step to take at `now`. While the peer has a thread spinning for this side's answer on another CPU
    /// (`peer` is ``PeerSpin/elsewhere``), it will send its next frame at once, and the side spins for
    /// ``peerSpinNanos`` before it yields: a yield is a system call, inside which the next frame arrives unseen.
    /// While that thread shares this side's CPU (``PeerSpin/sameCPU``), it can send nothing until this side gives
    /// the CPU up, and the side yields at once. The schedule's span stays the bound, so the side parks as soon
    /// whichever way.
    mutating func step(now: UInt64, peer: PeerSpin = .none) -> Step {
        if since == 0 { since = now }
        let idle = now &- since
        let (total, overflow) = schedule.spinNanos.addingReportingOverflow(schedule.yieldNanos)
        let end = overflow ? UInt64.max : total
        let spin: UInt64
        switch peer {
        case .none: spin = schedule.spinNanos
        case .elsewhere: spin = max(schedule.spinNanos, min(Self.peerSpinNanos, end))
        case .sameCPU: spin = 0
        }
        if idle < spin { return .spin }
        return idle < end ? .yield : .park
    }

    /// Spins or yields once and returns false, or returns true when the side should park now (see
    /// ``step(now:peer:)``).
    mutating func pause(now: UInt64, peer: PeerSpin = .none) -> Bool {
        switch step(now: now, peer: peer) {
        case .spin:
            triad_cpu_relax()
            return false
        case .yield:
            sched_yield()
            return false
        case .park:
            return true
        }
    }
}

/// The doorbell: single bytes on the socket that mean "look at the rings".
enum RingDoorbell {
    /// Rings the peer. A full socket already holds rings the peer has not seen, so that is not an error.
    static func ring(_ fd: Int32) {
        var byte: UInt8 = 1
        withUnsafeMutableBytes(of: &byte) { bytes in
            var vector = iovec(iov_base: bytes.baseAddress, iov_len: 1)
            _ = Syscall.sendNonBlocking(fd, &vector, count: 1)
        }
    }

    /// Reads the rings waiting on the socket, up to a bound: a peer that floods the socket only keeps it
    /// readable, and the caller comes back to it after its other duties. Returns true if the socket has ended (the
    /// peer is gone).
    static func drain(_ fd: Int32) -> Bool {
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        for _ in 0..<8 {
            switch withUnsafeMutableBytes(of: &scratch, { Syscall.recvNonBlocking(fd, into: $0) }) {
            case .success(0): return true
            case .success: continue
            case .failure(let error): return error != .again && error.rawValue != EWOULDBLOCK
            }
        }
        return false
    }
}

/// The mapping of a worker's two rings.
final class SharedRings: @unchecked Sendable {
    // @unchecked: the mapping is written only through a `RingWriter` (one per direction, used under its owner's
    // lock or by one thread) and read through a `RingReader` (one thread), and unmapped by `close()` once neither
    // is used any more.

    /// The descriptor a worker finds its rings at.
    static let workerFD: Int32 = 8
    /// Ring 0 carries jobs, ring 1 results.
    private static let toWorker: Int32 = 0
    private static let toParent: Int32 = 1

    private let mapping: UnsafeMutableRawPointer
    let capacity: Int

    private init(mapping: UnsafeMutableRawPointer, capacity: Int) {
        self.mapping = mapping
        self.capacity = capacity
    }

    /// Unmaps both rings. Call it once, when no writer or reader of them is used any more.
    func close() {
        triad_ring_unmap(mapping, capacity)
    }

    /// Makes the rings for a worker about to be spawned: the rings and the descriptor that goes to it as fd 8.
    static func parentSide(capacity: Int) -> Result<(SharedRings, Int32), Errno> {
        let fd = triad_ring_memfd_create(capacity)
        guard fd >= 0 else { return .failure(Errno(rawValue: -fd)) }
        var mapped = 0
        errno = 0
        guard let mapping = triad_ring_map(fd, &mapped) else {
            // The memfd is a ring of this process's own making, so what failed is a system call (mmap, most
            // likely for want of memory), whose errno is set.
            let error = errno != 0 ? Errno(rawValue: errno) : .invalidArgument
            Syscall.close(fd)
            return .failure(error)
        }
        return .success((SharedRings(mapping: mapping, capacity: mapped), fd))
    }

    /// The rings a worker inherited, or nil if fd 8 is not a pair of rings.
    static func workerSide() -> SharedRings? {
        guard Syscall.isOpen(workerFD), !Syscall.isSocket(workerFD) else { return nil }
        var capacity = 0
        guard let mapping = triad_ring_map(workerFD, &capacity) else { return nil }
        // The mapping stays for the life of the process; the descriptor is not needed any more.
        Syscall.close(workerFD)
        return SharedRings(mapping: mapping, capacity: capacity)
    }

    /// The parent's writer of jobs, or the worker's writer of results.
    func writer(parent: Bool) -> RingWriter {
        RingWriter(ring: triad_ring_at(mapping, capacity, parent ? Self.toWorker : Self.toParent), capacity: capacity)
    }

    /// The flags of the parent's ring of results (`parent`) or of the worker's ring of jobs. Valid until
    /// ``close()``.
    func flags(parent: Bool) -> RingFlags {
        RingFlags(ring: triad_ring_at(mapping, capacity, parent ? Self.toParent : Self.toWorker))
    }

    /// The parent's reader of results, or the worker's reader of jobs.
    func reader(parent: Bool) -> RingReader {
        RingReader(ring: triad_ring_at(mapping, capacity, parent ? Self.toParent : Self.toWorker), capacity: capacity)
    }
}

/// The reader's flag of one ring, and whether the ring holds unread bytes: the words of the control block that any
/// thread may touch, apart from the reader's position, which is its own.
struct RingFlags: @unchecked Sendable {
    // @unchecked: the pointer is into a shared mapping that its owner keeps until no thread uses these any more.
    let ring: UnsafeMutableRawPointer

    /// Raises the reader's flag before it parks for want of bytes.
    func raiseWaitingForBytes() { triad_ring_raise(ring, 0) }
    /// Lowers it again.
    func lowerWaitingForBytes() { triad_ring_lower(ring, 0) }
    /// Whether the writer has published bytes the reader has not read.
    func hasBytes() -> Bool { triad_ring_unread(ring) != 0 }
    /// Says whether a thread of the reader's side spins for the ring's bytes now, and on which CPU (the calling
    /// thread's): a hint for the writer's side (see ``readerSpin``), which nothing depends on for
    /// correctness.
    func markReaderSpinning(_ spinning: Bool) { triad_ring_set_reader_spins(ring, spinning ? 1 : 0) }
    /// Where a thread of the reader's side said it spins for the ring's bytes now, from the calling thread's CPU.
    var readerSpin: PeerSpin {
        switch triad_ring_reader_spin_place(ring) {
        case 0: .none
        case 2: .sameCPU
        default: .elsewhere
        }
    }
}

/// The writing end of one ring. Not copyable: its position is the writer's alone.
package struct RingWriter: ~Copyable {
    private let ring: UnsafeMutableRawPointer
    private let capacity: Int
    private var head: UInt64 = 0

    /// A writer of the ring at `ring` (its control block, then `capacity` bytes, a power of two), starting at
    /// position 0: in shared memory from `SharedRings`, or anywhere for a test.
    package init(ring: UnsafeMutableRawPointer, capacity: Int) {
        self.ring = ring
        self.capacity = capacity
    }

    /// Writes as much of `message` as the ring has room for, in order, and publishes it. Returns the bytes written.
    ///
    /// - Throws: `WireError` with `corruptFrame` if the reader's position is impossible.
    package mutating func write(_ message: OutgoingMessage) throws(WireError) -> Int {
        var written = 0
        var corrupt: Int32 = 0
        for segment in message.segments {
            let count = segment.withUnsafeBytes { bytes in
                bytes.isEmpty ? 0 : triad_ring_write(ring, capacity, &head, bytes.baseAddress, bytes.count, &corrupt)
            }
            if corrupt != 0 { throw RingError.impossiblePosition }
            written += count
            if count < segment.count { break }
        }
        return written
    }

    /// The room there is now.
    package func room() throws(WireError) -> Int {
        // SIZE_MAX, the C side's word for an impossible position, arrives here as -1.
        let room = triad_ring_writable(ring, capacity, head)
        guard room >= 0 else { throw RingError.impossiblePosition }
        return room
    }

    /// Whether the reader raised its flag before parking (and so must be rung); lowers it.
    package func readerIsParked() -> Bool { triad_ring_take(ring, 0) != 0 }

    /// Raises this writer's flag before it parks for want of room.
    package func raiseWaitingForRoom() { triad_ring_raise(ring, 1) }

    /// Lowers it again.
    package func lowerWaitingForRoom() { triad_ring_lower(ring, 1) }

    /// Publishes a position beyond the ring's capacity, as a worker that overwrote its memory would.
    func publishImpossiblePosition() { publish(head &+ UInt64(capacity) &+ 1) }

    /// Publishes `position` as the bytes written, whatever it is, as a peer that overwrote its memory would: for
    /// tests and fuzzing of the reader's defences.
    package func publish(_ position: UInt64) { triad_ring_publish(ring, 0, position) }
}

/// The reading end of one ring, inside a frame reader that cuts its bytes into frames.
package final class RingFrameReader {
    // Unchecked: one thread at a time reads a ring (the worker's loop; in the parent, the holder of the lock of the
    // worker's results); the dynamic exclusivity checks of every look at the ring showed in the worker's profile.
    @exclusivity(unchecked) private var frames: FrameReader
    @exclusivity(unchecked) private var reader: RingReader

    /// Cuts the bytes of `reader` into frames of at most `maxPayload` bytes, through a buffer of `bufferSize` bytes
    /// (see `FrameReader.init(maxPayload:bufferSize:)`).
    package init(_ reader: consuming RingReader, maxPayload: Int, bufferSize: Int = 64 << 10) {
        self.reader = reader
        frames = FrameReader(maxPayload: maxPayload, bufferSize: bufferSize)
    }

    /// Whether a whole frame is among the bytes already read.
    package var hasCompleteFrame: Bool { frames.hasCompleteFrame }

    /// Returns the next whole frame among the bytes already read, or nil if more must be read.
    package func nextBuffered() throws(WireError) -> Frame? { try frames.next() }

    /// Moves what the ring holds into the frame reader, as much as its space takes in one read. Returns the bytes
    /// moved (0: the ring is empty), and sets `ringWriter` if the writer was waiting for room and must be rung.
    /// Take the frames out with ``nextBuffered()`` before calling it again: a large payload gets its own array
    /// there, which the next read then fills in place.
    package func fill(ringWriter: inout Bool) throws(WireError) -> Int {
        let moved = try frames.fill { (space: UnsafeMutableRawBufferPointer) throws(WireError) -> Int? in
            try reader.read(into: space)
        } ?? 0
        if moved > 0 && reader.writerIsParked() { ringWriter = true }
        return moved
    }

    /// Whether the ring holds bytes not moved yet.
    func ringHasBytes() throws(WireError) -> Bool { try reader.readable() > 0 }

    /// The error for a stream that ended now: nil if it ended between frames.
    package func endOfStreamError() -> WireError? { frames.endOfStreamError() }
}

/// The reading end of one ring. Not copyable: its position is the reader's alone.
package struct RingReader: ~Copyable {
    private let ring: UnsafeMutableRawPointer
    private let capacity: Int
    private var tail: UInt64 = 0

    /// A reader of the ring at `ring`, starting at position 0 (see `RingWriter.init(ring:capacity:)`).
    package init(ring: UnsafeMutableRawPointer, capacity: Int) {
        self.ring = ring
        self.capacity = capacity
    }

    /// Copies what the ring holds, up to the space's size, and frees its room. Returns the bytes read, or nil if
    /// the ring is empty.
    ///
    /// - Throws: `WireError` with `corruptFrame` if the writer's position is impossible.
    package mutating func read(into space: UnsafeMutableRawBufferPointer) throws(WireError) -> Int? {
        var corrupt: Int32 = 0
        let count = triad_ring_read(ring, capacity, &tail, space.baseAddress, space.count, &corrupt)
        if corrupt != 0 { throw RingError.impossiblePosition }
        return count > 0 ? count : nil
    }

    /// The bytes there are to read now.
    package func readable() throws(WireError) -> Int {
        let count = triad_ring_readable(ring, capacity, tail)
        guard count >= 0 else { throw RingError.impossiblePosition }
        return count
    }

    /// Whether the writer raised its flag while it waited for room (and so must be rung); lowers it.
    package func writerIsParked() -> Bool { triad_ring_take(ring, 1) != 0 }

    /// Publishes `position` as the bytes read, whatever it is, as a peer that overwrote its memory would: for
    /// tests and fuzzing of the writer's defences.
    package func publish(_ position: UInt64) { triad_ring_publish(ring, 1, position) }
}

/// The worker's writer of results, shared by its sink and by the hooks tests use to play a broken worker.
final class WorkerResultRing: @unchecked Sendable {
    // @unchecked: used by the worker loop, one call at a time, and by a test hook inside a job that loop runs.
    var writer: RingWriter
    let channel: Int32

    init(_ writer: consuming RingWriter, channel: Int32) {
        self.writer = writer
        self.channel = channel
    }

    /// This worker's, once its loop has started.
    static let current = Mutex<WorkerResultRing?>(nil)
}

/// Lets a job play a worker that breaks its rings, for the tests of the parent's defences. Nothing else uses it.
package enum WorkerRingTesting {
    /// Writes `bytes` into this worker's result ring as they are, as much as fits, and rings the parent.
    package static func writeRaw(_ bytes: [UInt8]) {
        guard let ring = WorkerResultRing.current.withLock({ $0 }) else { return }
        var message = OutgoingMessage()
        message.appendSegment(bytes)
        _ = try? ring.writer.write(message)
        RingDoorbell.ring(ring.channel)
    }

    /// Publishes an impossible position in this worker's result ring, and rings the parent.
    package static func corruptPosition() {
        guard let ring = WorkerResultRing.current.withLock({ $0 }) else { return }
        ring.writer.publishImpossiblePosition()
        RingDoorbell.ring(ring.channel)
    }
}

package enum RingError {
    package static var impossiblePosition: WireError {
        WireError(.corruptFrame, "the peer's position in a shared ring is impossible: its memory was overwritten")
    }
}
#endif
