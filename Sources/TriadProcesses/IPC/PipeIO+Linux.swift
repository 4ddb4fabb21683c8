#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import SystemPackage
import TriadCore

/// The descriptor and buffers behind a ``Pipe``: framing, non-blocking reads and writes with deadlines, and the
/// descriptors that arrive on a Unix socket.
final class PipeIO: Sendable {
    /// Frame kinds on a pipe.
    enum Kind {
        static let value: UInt8 = 1
        static let bytes: UInt8 = 2
        static let descriptor: UInt8 = 3
        static let sharedPayload: UInt8 = 4
    }

    /// A frame as received: a descriptor frame also carries the descriptor that arrived with it.
    struct Received: Sendable {
        var kind: UInt8
        var payload: [UInt8]
        var descriptor: Int32?
        var tag: UInt64
    }

    struct ReceiveState: ~Copyable {
        var reader: FrameReader
        var endOfStream = false
        var pendingDescriptors: [Int32] = []
        var peeked: Received?
    }

    let fd: Int32
    let isSocket: Bool
    let maxFrameSize: Int
    /// Blocking loops wait at most this long at a time, then check for close and cancellation.
    static let slice: Int64 = 100_000_000
    /// The frame reader's buffer: frames up to half of it are read through it, larger payloads straight into place.
    private static let bufferSize = 128 << 10

    private let closing = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    /// Whether a timed-out send left part of a frame in the pipe.
    private let sendBroken = Mutex<Bool>(false)
    private let receiveState: Mutex<ReceiveState>

    init(fd: Int32, isSocket: Bool, maxFrameSize: Int) {
        self.fd = fd
        self.isSocket = isSocket
        self.maxFrameSize = maxFrameSize
        self.receiveState = Mutex(ReceiveState(reader: FrameReader(maxPayload: maxFrameSize, bufferSize: Self.bufferSize)))
    }

    var isClosed: Bool { closing.load(ordering: .acquiring) }

    func close() {
        guard !closing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Wait for calls in flight on other threads; they notice `closing` within one slice.
        sendBroken.withLock { _ in
            receiveState.withLock { state in
                for pending in state.pendingDescriptors { Syscall.close(pending) }
                state.pendingDescriptors = []
                if let descriptor = state.peeked?.descriptor { Syscall.close(descriptor) }
                state.peeked = nil
                closed.store(true, ordering: .releasing)
                Syscall.close(fd)
            }
        }
    }

    private func checkOpen(_ stop: IPCStopFlag?) throws(IPCError) {
        if closing.load(ordering: .acquiring) {
            throw IPCError(.closed, "this pipe end was closed")
        }
        if let stop, stop.isStopped {
            throw IPCError(.cancelled, "the waiting task was cancelled; nothing was consumed")
        }
    }

    // MARK: Sending

    /// Sends a frame, or a frame header followed by a payload that is sent from its own storage, uncopied.
    func send(
        _ frame: [UInt8],
        then payload: [UInt8]? = nil,
        attaching descriptor: Int32? = nil,
        deadline: IPCDeadline,
        stop: IPCStopFlag?
    ) throws(IPCError) {
        try sendBroken.withLock { broken throws(IPCError) in
            try checkOpen(stop)
            guard !broken else {
                throw IPCError(
                    .corruptStream,
                    "an earlier send timed out or was cancelled in the middle of a message, so this pipe can no "
                        + "longer be used"
                )
            }
            let outcome = frame.withUnsafeBytes { head in
                (payload ?? []).withUnsafeBytes { tail in
                    Result { () throws(IPCError) in
                        try write(head, descriptor: descriptor, deadline: deadline, stop: stop, broken: &broken)
                        try write(
                            tail, descriptor: nil, deadline: deadline, stop: stop, broken: &broken, sentBefore: true
                        )
                    }
                }
            }
            try outcome.get()
        }
    }

    /// Writes all of `bytes`, waiting for room as needed. A timeout or cancellation once anything of the frame is
    /// written (here, or before if `sentBefore`) marks the pipe `broken`.
    private func write(
        _ bytes: UnsafeRawBufferPointer,
        descriptor: Int32?,
        deadline: IPCDeadline,
        stop: IPCStopFlag?,
        broken: inout Bool,
        sentBefore: Bool = false
    ) throws(IPCError) {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let result: Result<Int, Errno>
            if offset == 0, let descriptor {
                result = Syscall.negated(
                    triad_ipc_send_with_fd(fd, rest.baseAddress, rest.count, descriptor)
                )
            } else {
                result = Syscall.write(fd, rest, isSocket: isSocket)
            }
            switch result {
            case .success(let written):
                offset += written
            case .failure(let error) where error.rawValue == EAGAIN:
                do throws(IPCError) {
                    try wait(for: Int16(POLLOUT), deadline: deadline, stop: stop)
                } catch {
                    // Part of the frame is in the pipe: the reader would take what follows for its rest.
                    if sentBefore || offset > 0, error.code == .timedOut || error.code == .cancelled { broken = true }
                    throw error
                }
            case .failure(let error) where error.rawValue == EPIPE || error.rawValue == ECONNRESET:
                throw IPCError(
                    .peerClosed,
                    "the other end of the pipe is closed (its process may have exited); nothing more can "
                        + "be sent",
                    errno: error
                )
            case .failure(let error):
                throw IPCError("writing to a pipe", error)
            }
        }
    }

    /// Waits until the descriptor is ready for `events`, in slices, checking close and cancellation.
    private func wait(for events: Int16, deadline: IPCDeadline, stop: IPCStopFlag?) throws(IPCError) {
        while true {
            try checkOpen(stop)
            if deadline.hasPassed {
                throw IPCError(.timedOut, "the pipe was not ready within the timeout; nothing was consumed")
            }
            let wait = deadline.remaining(atMost: Self.slice)
            let milliseconds = Int32((wait + 999_999) / 1_000_000)
            switch Syscall.poll(fd, events: events, timeoutMilliseconds: milliseconds) {
            case .success(let ready) where ready != 0:
                return
            case .success:
                continue
            case .failure(let error):
                throw IPCError("poll on a pipe", error)
            }
        }
    }

    // MARK: Receiving

    func receive(deadline: IPCDeadline, stop: IPCStopFlag?) throws(IPCError) -> Received {
        try receiveState.withLock { state throws(IPCError) -> Received in
            try checkOpen(stop)
            if let peeked = state.peeked {
                state.peeked = nil
                return peeked
            }
            return try fill(&state, deadline: deadline, stop: stop)
        }
    }

    /// Receives without waiting, and without waiting for the lock: `nil` if that would block.
    func receiveIfReady() throws(IPCError) -> Received? {
        let result: Result<Received, IPCError>? = receiveState.withLockIfAvailable { state in
            if closing.load(ordering: .acquiring) { return .failure(IPCError(.closed, "this pipe end was closed")) }
            if let peeked = state.peeked {
                state.peeked = nil
                return .success(peeked)
            }
            return Result { () throws(IPCError) in try fill(&state, deadline: IPCDeadline(timeout: .zero), stop: nil) }
        }
        switch result {
        case .none, .some(.failure(IPCError.timedOutPattern)):
            return nil
        case .some(let result):
            return try result.get()
        }
    }

    func poll(deadline: IPCDeadline, stop: IPCStopFlag?) throws(IPCError) -> Bool {
        try receiveState.withLock { state throws(IPCError) -> Bool in
            try checkOpen(stop)
            if state.peeked != nil { return true }
            do throws(IPCError) {
                state.peeked = try fill(&state, deadline: deadline, stop: stop)
                return true
            } catch where error.code == .timedOut {
                return false
            } catch where error.code == .closed || error.code == .cancelled {
                throw error
            } catch {
                return true  // the next receive reports it
            }
        }
    }

    private func fill(_ state: inout ReceiveState, deadline: IPCDeadline, stop: IPCStopFlag?) throws(IPCError)
        -> Received
    {
        while true {
            let frame: Frame?
            do throws(WireError) {
                frame = try state.reader.next()
            } catch {
                throw error.code == .frameTooLarge
                    ? IPCError(.tooLarge, "the peer sent a message above this end's limit: \(error.message)")
                    : IPCError(.corruptStream, error.message)
            }
            if let frame { return try received(frame, &state) }
            if state.endOfStream {
                if state.reader.holdsPartialFrame {
                    let arrived = state.reader.bufferedCount
                    // Reported once: the message's part is dropped, and later receives find the end of the stream.
                    state.reader = FrameReader(maxPayload: maxFrameSize, bufferSize: Self.bufferSize)
                    throw IPCError(
                        .corruptStream,
                        "the other end closed in the middle of a message (\(arrived) bytes of it arrived)"
                    )
                }
                throw IPCError(
                    .endOfStream,
                    "the other end of the pipe was closed, or its process exited, and everything it sent was received"
                )
            }
            // Read what is there into the space the reader offers, keeping any descriptors that come with it.
            var descriptors: [Int32] = []
            let read = try state.reader.fill { (space: UnsafeMutableRawBufferPointer) throws(IPCError) -> Int? in
                try readOnce(into: space, descriptors: &descriptors)
            }
            state.pendingDescriptors += descriptors
            switch read {
            case nil: try wait(for: Int16(POLLIN), deadline: deadline, stop: stop)
            case 0?: state.endOfStream = true
            case .some: continue
            }
        }
    }

    /// Reads at most `chunk.count` bytes into `chunk`, keeping any descriptors that arrive; returns the count, 0 at
    /// the end of the stream, or `nil` if the read would block.
    private func readOnce(into chunk: UnsafeMutableRawBufferPointer, descriptors: inout [Int32]) throws(IPCError)
        -> Int?
    {
        let result: Result<Int, Errno>
        if isSocket {
            var fds: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
            var count: Int32 = 0
            result = withUnsafeMutableBytes(of: &fds) { raw in
                Syscall.negated(
                    triad_ipc_recv_with_fds(
                        fd, chunk.baseAddress, chunk.count, raw.baseAddress!.assumingMemoryBound(to: Int32.self), 8,
                        &count
                    )
                )
            }
            withUnsafeBytes(of: fds) { raw in
                for index in 0..<Int(count) {
                    descriptors.append(raw.load(fromByteOffset: index * 4, as: Int32.self))
                }
            }
        } else {
            result = Syscall.read(fd, into: chunk)
        }
        switch result {
        case .success(let count):
            return count
        case .failure(let error) where error.rawValue == EAGAIN:
            return nil
        case .failure(let error) where error.rawValue == ECONNRESET:
            return 0
        case .failure(let error):
            throw IPCError("reading from a pipe", error)
        }
    }

    private func received(_ frame: Frame, _ state: inout ReceiveState) throws(IPCError) -> Received {
        guard frame.kind == Kind.descriptor else {
            return Received(kind: frame.kind, payload: frame.payload, descriptor: nil, tag: 0)
        }
        guard frame.payload.count == 8, !state.pendingDescriptors.isEmpty else {
            throw IPCError(.corruptStream, "a descriptor message arrived without its descriptor")
        }
        let tag = frame.payload.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let descriptor = state.pendingDescriptors.removeFirst()
        return Received(kind: frame.kind, payload: [], descriptor: descriptor, tag: tag)
    }
}

extension IPCError {
    /// Matches any ``IPCError/Code/timedOut`` error in a pattern.
    static let timedOutPattern = IPCError(.timedOut, "")

    /// Errors match the pattern ``timedOutPattern`` by code alone.
    static func ~= (pattern: IPCError, value: IPCError) -> Bool {
        pattern.code == value.code
    }
}
#endif
