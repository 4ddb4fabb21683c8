#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import SystemPackage
import TriadCore

// Large job and result frames travel through shared memory instead of the socket, transparently to jobs.
//
// Each worker gets two lanes at spawn, by inheritance (fd 6: parent to worker, fd 7: worker to parent): anonymous
// memfds that grow but can never shrink (sealed), so no side can truncate memory under the other's mapping. A frame
// whose payload is at least the threshold is copied into its lane and replaced on the socket by a small
// `sharedData` frame that says where it lies. The payload is copied into the lane from where its pieces are (the
// codec's buffer and the large arrays it borrowed), and a data frame is decoded straight out of the lane; only
// then does the reader count it as consumed in the lane's header. The writer uses the lane as a ring of payloads:
// the reader's count frees the oldest ones, so a steady stream of large payloads reuses the same pages with no system
// call, even while the reader lags a few payloads behind.
// Nothing is ever named in /dev/shm: a lane disappears with the last process that holds it, however it ends.

extension WorkerFrameKind {
    /// A data frame whose payload lies in a shared lane: original kind, offset and byte count (8 bytes each).
    package static let sharedData: UInt8 = 6
}

/// Where the lanes of a worker are, and how large a frame must be to take them.
enum SharedLaneEnvironment {
    /// The threshold in bytes, in a worker's environment; absent means the worker sends everything inline.
    static let thresholdKey = "TRIAD_WORKER_SHARED_THRESHOLD"
    /// The lane from the parent to the worker.
    static let toWorkerFD: Int32 = 6
    /// The lane from the worker to the parent.
    static let fromWorkerFD: Int32 = 7
    /// The first descriptor after the lanes and the rings (fd 8, `SharedRings.workerFD`), where a `Process`'s
    /// passed descriptors start.
    static let firstFree: Int32 = 9
}

/// A mapping of a whole lane, remapped when the lane has grown. Guarded by the owner's mutex.
private struct LaneMapping {
    private(set) var fd: Int32
    var base: UnsafeMutableRawPointer?
    var size = 0
    /// Frames resolved in place and not released yet (reading side only).
    var pinned = 0
    /// Older mappings that pinned frames may still point into.
    private var retired: [(base: UnsafeMutableRawPointer, size: Int)] = []

    init(fd: Int32) { self.fd = fd }

    /// Maps at least `size` bytes, growing the lane first if `grow` is set.
    mutating func ensure(_ needed: Int, grow: Bool) -> Bool {
        guard needed > size else { return true }
        var target = needed
        if grow {
            target = max(needed, 2 * size, 1 << 20)
            target = (target + 65_535) & ~65_535
            guard triad_lane_grow(fd, target) == 0 else { return false }
        } else {
            guard case .success(let fileSize) = Syscall.fileSize(fd), fileSize >= needed else { return false }
            target = fileSize
        }
        guard case .success(let mapped) = Syscall.map(fd, size: target) else { return false }
        // New pages of a grown lane are about to be written: fault them in at once rather than one by one.
        if grow { triad_lane_populate(mapped + size, target - size) }
        if let base {
            // Mapped frames still point into the old mapping: keep it until they are released.
            if pinned > 0 { retired.append((base, size)) } else { Syscall.unmap(base, size: size) }
        }
        base = mapped
        size = target
        return true
    }

    /// The reader's count of consumed payloads, in the lane's first word.
    var consumedWord: UnsafeMutablePointer<UInt32> { base!.assumingMemoryBound(to: UInt32.self) }

    mutating func unmapRetired() {
        for (base, size) in retired { Syscall.unmap(base, size: size) }
        retired = []
    }

    /// Unmaps and closes the lane. Releasing twice is not an error.
    mutating func release() {
        unmapRetired()
        pinned = 0
        if let base { Syscall.unmap(base, size: size) }
        base = nil
        size = 0
        if fd >= 0 { Syscall.close(fd) }
        fd = -1
    }
}

/// The two lanes of one side of a connection: a pool and one of its workers, or two MPI ranks on one machine.
package final class SharedFrameLanes: Sendable {
    private static let headerSize = 4096

    private struct Writer {
        var mapping: LaneMapping
        var offset = SharedFrameLanes.headerSize
        var produced: UInt32 = 0
        /// Where the payloads written and not known to be read lie, oldest first. Every reader counts payloads as
        /// read in the order they were written (a pool's worker and parent, and a rank, read their frames one by
        /// one), so the count in the lane's header says how many of these are free again.
        var unread: [Range<Int>] = []
    }

    /// The most a lane grows while payloads in it are still unread, unless one payload needs more: past it, a
    /// payload travels inline until the reader catches up, so a reader that falls behind a stream of large
    /// payloads (a pipeline of big jobs to a busy rank) cannot make the lane grow without end.
    private static let busyGrowthLimit = 64 << 20

    // Both guarded by their mutexes; the raw pointers inside never leave them.
    private let writer: Mutex<Writer>
    private let reader: Mutex<LaneMapping>
    private let threshold: Int?
    private let maxPayload: Int

    /// Lanes that write into `writeFD` and read from `readFD`, both taken over (closed by ``close()``). Frames of
    /// at least `threshold` bytes go through the lane; nil sends everything inline.
    package init(writeFD: Int32, readFD: Int32, threshold: Int?, maxPayload: Int) {
        writer = Mutex(Writer(mapping: LaneMapping(fd: writeFD)))
        reader = Mutex(LaneMapping(fd: readFD))
        self.threshold = threshold
        self.maxPayload = maxPayload
    }

    deinit {
        close()
    }

    /// Unmaps and closes both lanes, once the peer is gone: a pool's shutdown must leave no descriptor behind, so
    /// this cannot wait for the last reference to go. Closing twice is not an error.
    package func close() {
        writer.withLock { $0.mapping.release() }
        reader.withLock { $0.release() }
    }

    /// Has the codec ask for transparent huge pages for the large arrays it decodes, once per process: a fresh
    /// 64 MiB array then costs 32 page faults instead of 16,384, which would take longer than copying into it.
    /// (Asking the kernel to fault them all in at once up front measured slower.)
    static let prepareLargeArrays: Void = {
        WireLargeBuffers.install { buffer in triad_ipc_advise_huge_pages(buffer.baseAddress, buffer.count) }
    }()

    /// Makes the lanes of a worker about to be spawned. The returned descriptors go to the child as fd 6 and 7.
    static func parentSide(threshold: Int?, maxPayload: Int) -> Result<(SharedFrameLanes, [Int32]), Errno> {
        Self.prepareLargeArrays
        let toWorker = triad_lane_memfd_create(headerSize)
        guard toWorker >= 0 else { return .failure(Errno(rawValue: -toWorker)) }
        let toWorkerOwner = OwnedDescriptor(toWorker)
        let fromWorker = triad_lane_memfd_create(headerSize)
        guard fromWorker >= 0 else { return .failure(Errno(rawValue: -fromWorker)) }
        _ = toWorkerOwner.release()
        let lanes = SharedFrameLanes(
            writeFD: toWorker, readFD: fromWorker, threshold: threshold, maxPayload: maxPayload
        )
        return .success((lanes, [toWorker, fromWorker]))
    }

    /// The lanes a worker inherited, or nil if it has none (then everything travels inline).
    static func workerSide(maxPayload: Int) -> SharedFrameLanes? {
        let fds = [SharedLaneEnvironment.toWorkerFD, SharedLaneEnvironment.fromWorkerFD]
        guard fds.allSatisfy({ Syscall.isOpen($0) && !Syscall.isSocket($0) }) else { return nil }
        Self.prepareLargeArrays
        for fd in fds { _ = Syscall.setCloseOnExec(fd) }
        let threshold = getenv(SharedLaneEnvironment.thresholdKey).flatMap { Int(String(cString: $0)) }
        return SharedFrameLanes(
            writeFD: SharedLaneEnvironment.fromWorkerFD,
            readFD: SharedLaneEnvironment.toWorkerFD,
            threshold: threshold,
            maxPayload: maxPayload
        )
    }

    /// A fresh lane of this process for a peer that will open it with ``openPeerLane(pid:descriptor:token:)``,
    /// holding `token` (at most 64 bytes) for the peer to check.
    package static func makeLane(token: [UInt8]) -> Result<Int32, Errno> {
        let fd = triad_lane_memfd_create(headerSize)
        guard fd >= 0 else { return .failure(Errno(rawValue: -fd)) }
        let failed = token.withUnsafeBytes { triad_lane_set_token(fd, $0.baseAddress, $0.count) }
        guard failed == 0 else {
            Syscall.close(fd)
            return .failure(Errno(rawValue: failed))
        }
        return .success(fd)
    }

    /// Opens the lane `descriptor` of the process `pid` on this machine, made by ``makeLane(token:)`` with
    /// `token`: how two processes that did not start each other, such as MPI ranks, share lanes. Fails when the
    /// process is elsewhere or gone, when this process may not open its descriptors, when the descriptor is not a
    /// lane (`EBADF`), or when it holds another token (`EACCES`: another process of that pid, on another machine).
    package static func openPeerLane(pid: Int32, descriptor: Int32, token: [UInt8]) -> Result<Int32, Errno> {
        let fd = token.withUnsafeBytes { triad_lane_open_peer(pid, descriptor, $0.baseAddress, $0.count) }
        return fd >= 0 ? .success(fd) : .failure(Errno(rawValue: -fd))
    }

    /// A fresh random token for ``makeLane(token:)``.
    package static func makeToken() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Closes a lane made by ``makeLane(token:)`` or opened by ``openPeerLane(pid:descriptor:token:)`` that never
    /// became part of lanes.
    package static func closeLane(_ fd: Int32) {
        Syscall.close(fd)
    }

    /// A child's environment: `environment` with the entry that tells the worker this threshold, and the list of
    /// descriptors passed to a `Process`, replacing any inherited ones (a grandchild must not believe it was passed
    /// its parent's descriptors). With large payloads on, a worker's malloc also backs its large blocks with
    /// transparent huge pages (glibc's `glibc.malloc.hugetlb=1`), unless `GLIBC_TUNABLES` is set already: a fresh
    /// 64 MiB array then costs 32 page faults instead of 16,384, which is most of the time of a large round trip.
    func environment(_ environment: [String], passing passedCount: Int) -> [String] {
        let thresholdPrefix = SharedLaneEnvironment.thresholdKey + "="
        let passedPrefix = IPCDescriptor.passedKey + "="
        var result = environment.filter { !$0.hasPrefix(thresholdPrefix) && !$0.hasPrefix(passedPrefix) }
        if let threshold {
            result.append(thresholdPrefix + String(threshold))
            if !result.contains(where: { $0.hasPrefix("GLIBC_TUNABLES=") }) {
                result.append("GLIBC_TUNABLES=glibc.malloc.hugetlb=1")
            }
        }
        if passedCount > 0 {
            result.append(
                passedPrefix
                    + (0..<passedCount).map { String(SharedLaneEnvironment.firstFree + Int32($0)) }
                    .joined(separator: ",")
            )
        }
        return result
    }

    // MARK: - Sending

    /// Moves every payload of at least the threshold into the outgoing lane, replacing its frame in the message by
    /// a `sharedData` frame. The payload's pieces (the codec's buffer and the arrays it borrowed) are copied into
    /// the lane straight from where they are. A payload that cannot be placed (the system refused memory) stays
    /// inline, and so does everything in a message whose frames cannot be walked.
    package func externalize(_ message: OutgoingMessage) -> OutgoingMessage {
        externalizeCounting(message).message
    }

    /// ``externalize(_:)``, and how many frames it moved into the lane.
    package func externalizeCounting(_ message: OutgoingMessage) -> (message: OutgoingMessage, moved: Int) {
        guard let threshold, message.byteCount >= threshold, let frames = message.frames(),
            frames.contains(where: { $0.length >= threshold })
        else { return (message, 0) }
        var result = OutgoingMessage()
        var emitted = 0
        var moved = 0
        for frame in frames where frame.length >= threshold {
            guard let offset = place(message.segments(covering: frame.payload), count: frame.length) else { continue }
            for segment in message.segments(covering: emitted..<frame.start) { result.appendSegment(segment) }
            result.appendSegment(OutgoingSegment(Self.reference(frame, offset: offset)))
            emitted = frame.payload.upperBound
            moved += 1
        }
        guard moved > 0 else { return (message, 0) }
        for segment in message.segments(covering: emitted..<message.byteCount) { result.appendSegment(segment) }
        return (result, moved)
    }

    private static func reference(_ frame: MessageFrame, offset: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Frame.headerSize + 24)
        Frame.appendHeader(kind: WorkerFrameKind.sharedData, flags: frame.flags, length: 24, to: &bytes)
        for field in [UInt64(frame.kind), UInt64(offset), UInt64(frame.length)] { appendInteger(field, to: &bytes) }
        return bytes
    }

    /// Copies a payload, made of `pieces`, into the outgoing lane; returns its offset, or nil if the lane cannot
    /// hold it.
    private func place(_ pieces: [OutgoingSegment], count: Int) -> Int? {
        withExtendedLifetime(pieces) {
            // The pieces stay alive for the call and their storage does not move; the addresses cross into the
            // lock as plain numbers.
            let sources = pieces.map { piece in piece.withUnsafeBytes { (Int(bitPattern: $0.baseAddress), $0.count) } }
            return writer.withLock { writer -> Int? in
                if writer.mapping.base == nil, !writer.mapping.ensure(Self.headerSize, grow: false) { return nil }
                guard let start = Self.start(for: count, in: &writer) else { return nil }
                guard writer.mapping.ensure(start + count, grow: true) else { return nil }
                var target = writer.mapping.base! + start
                for (address, length) in sources where length > 0 {
                    guard let bytes = UnsafeRawPointer(bitPattern: address) else { continue }
                    target.copyMemory(from: bytes, byteCount: length)
                    target += length
                }
                writer.offset = start + count
                writer.produced &+= 1
                writer.unread.append(start..<start + count)
                return start
            }
        }
    }

    /// Where the next payload of `count` bytes goes: the lane is a ring of payloads over a buffer that grows. With
    /// nothing unread it starts again at the front; otherwise it goes after the newest payload, or at the front when
    /// the oldest unread one leaves room there, or after the newest once the lane has grown. Nil when it does not
    /// fit without overwriting an unread payload or growing past ``busyGrowthLimit``, or when the reader's count is
    /// impossible: then the payload travels inline.
    private static func start(for count: Int, in writer: inout Writer) -> Int? {
        let unreadCount = Int(writer.produced &- triad_ipc_atomic_load32(writer.mapping.consumedWord))
        guard unreadCount <= writer.unread.count else { return nil }
        writer.unread.removeFirst(writer.unread.count - unreadCount)
        guard let head = writer.unread.first?.lowerBound else { return headerSize }
        let tail = (writer.offset + 63) & ~63
        if tail <= head {
            // Wrapped: the free space lies between the newest payload and the oldest.
            return tail + count <= head ? tail : nil
        }
        if tail + count <= writer.mapping.size { return tail }
        if headerSize + count <= head { return headerSize }
        return tail + count <= max(busyGrowthLimit, 4 * count) ? tail : nil
    }

    // MARK: - Receiving

    /// Returns `frame` itself, or for a `sharedData` frame the frame it stands for.
    ///
    /// With `inPlace`, a data frame is not copied out of the lane: its payload stays in place (see
    /// `ReceivedFrame`), valid and unchanged until ``release(_:)`` counts it, and the writer does not reuse its
    /// place before. Other frames are copied out and counted as read at once, unless `everyKind` leaves them in
    /// place too (for a reader that releases a whole message at once).
    ///
    /// - Throws: `WireError` if the reference is malformed, above the frame limit or outside the lane.
    package func resolve(
        _ frame: Frame,
        inPlace: Bool = false,
        everyKind: Bool = false
    ) throws(WireError) -> ReceivedFrame {
        guard frame.kind == WorkerFrameKind.sharedData else { return ReceivedFrame(frame) }
        guard frame.payload.count == 24 else {
            throw WireError(.corruptFrame, "a shared-memory reference of \(frame.payload.count) bytes is malformed")
        }
        let kind: UInt64 = readInteger(frame.payload, at: 0)
        let offset: UInt64 = readInteger(frame.payload, at: 8)
        let count: UInt64 = readInteger(frame.payload, at: 16)
        guard count <= UInt64(maxPayload) else {
            throw WireError(
                .frameTooLarge,
                "a frame of \(count) bytes is above the limit of \(maxPayload) bytes; raise the limit or send less"
            )
        }
        guard kind <= UInt64(UInt8.max), kind != UInt64(WorkerFrameKind.sharedData), offset >= UInt64(Self.headerSize),
            offset <= UInt64(Int.max) - count
        else {
            throw WireError(.corruptFrame, "a shared-memory reference points outside its lane or names a bad kind")
        }
        let inPlace = inPlace && (everyKind || UInt8(kind) == WorkerFrameKind.data)
        return try reader.withLock { mapping throws(WireError) -> ReceivedFrame in
            let end = Int(offset + count)
            guard mapping.ensure(end, grow: false) else {
                throw WireError(.corruptFrame, "a shared-memory reference points past the end of its lane")
            }
            let source = UnsafeRawBufferPointer(start: mapping.base! + Int(offset), count: Int(count))
            if inPlace {
                mapping.pinned += 1
                return ReceivedFrame(kind: UInt8(kind), flags: frame.flags, inLane: source)
            }
            let bytes = [UInt8](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                let target = UnsafeMutableRawBufferPointer(buffer)
                if target.count >= 8 << 20 { triad_ipc_advise_huge_pages(target.baseAddress, target.count) }
                if target.count > 0 { target.copyMemory(from: source) }
                initialized = Int(count)
            }
            _ = triad_ipc_atomic_add32(mapping.consumedWord, 1)
            return ReceivedFrame(Frame(kind: UInt8(kind), flags: frame.flags, payload: bytes))
        }
    }

    /// Counts `count` frames that ``resolve(_:inPlace:everyKind:)`` left in place as read: their bytes may be
    /// reused by the writer from now on, and must not be touched any more. Frames are counted in the order they
    /// were written, as every reader reads them.
    package func release(_ count: Int) {
        guard count > 0 else { return }
        reader.withLock { mapping in
            // Closed lanes (the worker has gone) have nothing left to count.
            guard mapping.base != nil else { return }
            precondition(mapping.pinned >= count, "released more frames left in place than were resolved")
            _ = triad_ipc_atomic_add32(mapping.consumedWord, UInt32(count))
            mapping.pinned -= count
            if mapping.pinned == 0 { mapping.unmapRetired() }
        }
    }
}
#endif
