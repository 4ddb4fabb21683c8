#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import TriadCore

// Large job and result frames travel through shared memory instead of the socket, transparently to jobs.
//
// Each worker gets two lanes at spawn, by inheritance (fd 6: parent to worker, fd 7: worker to parent): anonymous
// memfds that grow but can never shrink (sealed), so no side can truncate memory under the other's mapping. A frame
// whose payload is at least the threshold is copied into its lane and replaced on the socket by a small
// `sharedData` frame that says where it lies. The reader copies it out and counts it as consumed in the lane's
// header; once the writer sees every payload consumed, it writes from the start again, so a steady stream of large
// payloads reuses the same pages with no system call. Nothing is ever named in /dev/shm: a lane disappears with the
// last process that holds it, however it ends.

extension WorkerFrameKind {
    /// A data frame whose payload lies in a shared lane: original kind, offset and byte count (8 bytes each).
    static let sharedData: UInt8 = 6
}

/// Where the lanes of a worker are, and how large a frame must be to take them.
enum SharedLaneEnvironment {
    /// The threshold in bytes, in a worker's environment; absent means the worker sends everything inline.
    static let thresholdKey = "TRIAD_WORKER_SHARED_THRESHOLD"
    /// The lane from the parent to the worker.
    static let toWorkerFD: Int32 = 6
    /// The lane from the worker to the parent.
    static let fromWorkerFD: Int32 = 7
    /// The first descriptor after the lanes, where a `Process`'s passed descriptors start.
    static let firstFree: Int32 = 8
}

/// A mapping of a whole lane, remapped when the lane has grown. Guarded by the owner's mutex.
private struct LaneMapping {
    let fd: Int32
    var base: UnsafeMutableRawPointer?
    var size = 0

    /// Maps at least `size` bytes, growing the lane first if `grow` is set.
    mutating func ensure(_ needed: Int, grow: Bool) -> Bool {
        guard needed > size else { return true }
        var target = needed
        if grow {
            target = max(needed, 2 * size, 1 << 20)
            target = (target + 65_535) & ~65_535
            guard triad_lane_grow(fd, target) == 0 else { return false }
        } else {
            guard case .success(let fileSize) = IPCSyscall.fileSize(fd), fileSize >= needed else { return false }
            target = fileSize
        }
        guard case .success(let mapped) = IPCSyscall.map(fd, size: target) else { return false }
        // New pages of a grown lane are about to be written: fault them in at once rather than one by one.
        if grow { triad_lane_populate(mapped + size, target - size) }
        if let base { IPCSyscall.unmap(base, size: size) }
        base = mapped
        size = target
        return true
    }

    /// The reader's count of consumed payloads, in the lane's first word.
    var consumedWord: UnsafeMutablePointer<UInt32> { base!.assumingMemoryBound(to: UInt32.self) }

    func release() {
        if let base { IPCSyscall.unmap(base, size: size) }
        IPCSyscall.close(fd)
    }
}

/// The two lanes of one side of a worker's connection.
final class SharedFrameLanes: Sendable {
    private static let headerSize = 4096

    private struct Writer {
        var mapping: LaneMapping
        var offset = SharedFrameLanes.headerSize
        var produced: UInt32 = 0
    }

    // Both guarded by their mutexes; the raw pointers inside never leave them.
    private let writer: Mutex<Writer>
    private let reader: Mutex<LaneMapping>
    private let threshold: Int?
    private let maxPayload: Int

    private init(writeFD: Int32, readFD: Int32, threshold: Int?, maxPayload: Int) {
        writer = Mutex(Writer(mapping: LaneMapping(fd: writeFD)))
        reader = Mutex(LaneMapping(fd: readFD))
        self.threshold = threshold
        self.maxPayload = maxPayload
    }

    deinit {
        writer.withLock { $0.mapping.release() }
        reader.withLock { $0.release() }
    }

    /// Makes the lanes of a worker about to be spawned. The returned descriptors go to the child as fd 6 and 7.
    static func parentSide(threshold: Int?, maxPayload: Int) -> Result<(SharedFrameLanes, [Int32]), Errno> {
        let toWorker = triad_lane_memfd_create(headerSize)
        guard toWorker >= 0 else { return .failure(Errno(rawValue: -toWorker)) }
        let fromWorker = triad_lane_memfd_create(headerSize)
        guard fromWorker >= 0 else {
            IPCSyscall.close(toWorker)
            return .failure(Errno(rawValue: -fromWorker))
        }
        let lanes = SharedFrameLanes(
            writeFD: toWorker, readFD: fromWorker, threshold: threshold, maxPayload: maxPayload
        )
        return .success((lanes, [toWorker, fromWorker]))
    }

    /// The lanes a worker inherited, or nil if it has none (then everything travels inline).
    static func workerSide(maxPayload: Int) -> SharedFrameLanes? {
        let fds = [SharedLaneEnvironment.toWorkerFD, SharedLaneEnvironment.fromWorkerFD]
        guard fds.allSatisfy({ IPCSyscall.isOpen($0) && !IPCSyscall.isSocket($0) }) else { return nil }
        for fd in fds { _ = IPCSyscall.setCloseOnExec(fd) }
        let threshold = getenv(SharedLaneEnvironment.thresholdKey).flatMap { Int(String(cString: $0)) }
        return SharedFrameLanes(
            writeFD: SharedLaneEnvironment.fromWorkerFD,
            readFD: SharedLaneEnvironment.toWorkerFD,
            threshold: threshold,
            maxPayload: maxPayload
        )
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

    /// Moves every payload of at least the threshold into the outgoing lane, replacing it in the message by a
    /// `sharedData` frame. A payload that cannot be placed (the system refused memory) stays inline.
    func externalize(_ message: OutgoingMessage) -> OutgoingMessage {
        guard let threshold, message.segments.contains(where: { $0.count >= threshold }) else { return message }
        var result: [[UInt8]] = []
        result.reserveCapacity(message.segments.count)
        for segment in message.segments {
            // A large payload is its own segment, right after its header at the end of the previous one.
            guard segment.count >= threshold, let previous = result.last, previous.count >= Frame.headerSize,
                let header = Self.header(endOf: previous), header.length == segment.count,
                let offset = place(segment)
            else {
                result.append(segment)
                continue
            }
            result.removeLast()
            if previous.count > Frame.headerSize { result.append(Array(previous.dropLast(Frame.headerSize))) }
            var frame: [UInt8] = []
            frame.reserveCapacity(Frame.headerSize + 24)
            Frame.appendHeader(kind: WorkerFrameKind.sharedData, flags: header.flags, length: 24, to: &frame)
            for field in [UInt64(header.kind), UInt64(offset), UInt64(segment.count)] {
                appendInteger(field, to: &frame)
            }
            result.append(frame)
        }
        return OutgoingMessage(segments: result)
    }

    private static func header(endOf bytes: [UInt8]) -> (kind: UInt8, flags: UInt8, length: Int)? {
        bytes.withUnsafeBytes { raw in
            let start = raw.count - Frame.headerSize
            return try? Frame.parseHeader(UnsafeRawBufferPointer(rebasing: raw[start...]), maxPayload: .max)
        }
    }

    /// Copies a payload into the outgoing lane; returns its offset, or nil if the lane cannot hold it.
    private func place(_ payload: [UInt8]) -> Int? {
        writer.withLock { writer -> Int? in
            if writer.mapping.base == nil, !writer.mapping.ensure(Self.headerSize, grow: false) { return nil }
            // Every payload written so far has been read: start again at the front.
            if triad_ipc_atomic_load32(writer.mapping.consumedWord) == writer.produced {
                writer.offset = Self.headerSize
            }
            let start = (writer.offset + 63) & ~63
            guard writer.mapping.ensure(start + payload.count, grow: true) else { return nil }
            payload.withUnsafeBytes { bytes in
                (writer.mapping.base! + start).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
            writer.offset = start + payload.count
            writer.produced &+= 1
            return start
        }
    }

    // MARK: - Receiving

    /// Returns `frame` itself, or for a `sharedData` frame the frame it stands for, copied out of the lane.
    ///
    /// - Throws: ``WireError`` if the reference is malformed, above the frame limit or outside the lane.
    func resolve(_ frame: Frame) throws(WireError) -> Frame {
        guard frame.kind == WorkerFrameKind.sharedData else { return frame }
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
        guard kind <= UInt64(UInt8.max), offset >= UInt64(Self.headerSize), offset <= UInt64(Int.max) - count else {
            throw WireError(.corruptFrame, "a shared-memory reference points outside its lane")
        }
        let payload = try reader.withLock { mapping throws(WireError) -> [UInt8] in
            let end = Int(offset + count)
            guard mapping.ensure(end, grow: false) else {
                throw WireError(.corruptFrame, "a shared-memory reference points past the end of its lane")
            }
            let source = UnsafeRawBufferPointer(start: mapping.base! + Int(offset), count: Int(count))
            let bytes = [UInt8](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                let target = UnsafeMutableRawBufferPointer(buffer)
                if target.count >= 8 << 20 { triad_ipc_advise_huge_pages(target.baseAddress, target.count) }
                if target.count > 0 { target.copyMemory(from: source) }
                initialized = Int(count)
            }
            _ = triad_ipc_atomic_add32(mapping.consumedWord, 1)
            return bytes
        }
        return Frame(kind: UInt8(kind), flags: frame.flags, payload: payload)
    }
}
#endif
