#if os(Linux)
import Synchronization
import TriadCore

/// One end of a channel between two processes that carries `Codable` values, raw bytes and, on duplex pipes,
/// file descriptors: Triad's counterpart of Python's `multiprocessing.Pipe`.
///
/// ```swift
/// let (parentEnd, childEnd) = try Pipe.duplex()
/// // spawn a child that inherits childEnd.descriptor, then close childEnd here
/// try parentEnd.send(Job(id: 7))
/// let reply = try parentEnd.receive(Reply.self, timeout: .seconds(5))
/// ```
///
/// - A **duplex** pipe (``duplex(maxFrameSize:)``, a Unix socket pair) sends and receives at both ends, and can
///   pass descriptors (``send(descriptor:tag:timeout:)``), for example of a ``SharedMemory`` segment.
/// - A **one-way** pipe (``oneWay(maxFrameSize:)``, `pipe2`) has a reading end and a writing end.
///
/// Values are encoded with Triad's binary `WireEncoder` and travel in length-prefixed frames; a frame above the
/// pipe's `maxFrameSize` is refused at both ends with ``IPCError/Code/tooLarge``. The receiving side decodes only
/// the type its caller names, so bytes from a peer never run code.
///
/// **End of stream.** When one end is closed, or its process exits or is killed, the other end first receives
/// every frame already sent, then ``IPCError/Code/endOfStream``; sending to it fails with
/// ``IPCError/Code/peerClosed``. Neither raises `SIGPIPE`.
///
/// **Handing an end to another process.** Give the child ``descriptor`` by inheritance (for example with a
/// `posix_spawn` `dup2` file action) and tell it the number, in an argument or environment variable; the child
/// calls ``init(inheriting:maxFrameSize:)``. Then close the parent's copy of that end, or the other end never sees
/// end of stream.
///
/// **Threads and tasks.** A `Pipe` is `Sendable`: sends are serialized with each other, and receives with each
/// other. The blocking calls wait on the calling thread, so call them from your own threads; the `async` variants
/// wait on a dedicated thread and never block Swift's cooperative pool. Only one process should write to an end
/// at a time: for many producers, use a ``ProcessQueue``.
public final class Pipe: Sendable {
    /// What an end can do.
    public struct Direction: Hashable, Sendable, CustomStringConvertible {
        let rawValue: UInt8
        /// An end of a duplex pipe: it sends and receives.
        public static let duplex = Direction(rawValue: 3)
        /// The reading end of a one-way pipe.
        public static let receiving = Direction(rawValue: 1)
        /// The writing end of a one-way pipe.
        public static let sending = Direction(rawValue: 2)

        var canReceive: Bool { rawValue & 1 != 0 }
        var canSend: Bool { rawValue & 2 != 0 }

        /// `duplex`, `receiving` or `sending`.
        public var description: String {
            switch rawValue {
            case 3: "duplex"
            case 1: "receiving"
            default: "sending"
            }
        }
    }

    /// The default largest frame: 64 MiB. Send larger data through ``SharedMemory`` and a
    /// ``SharedPayloadWriter``.
    public static let defaultMaxFrameSize = 64 << 20

    /// What this end can do.
    public let direction: Direction
    /// The largest frame payload this end sends or accepts, in bytes.
    public let maxFrameSize: Int
    let io: PipeIO

    init(fd: Int32, direction: Direction, maxFrameSize: Int) {
        precondition(maxFrameSize > 0 && maxFrameSize <= Int(UInt32.max), "maxFrameSize must fit in 32 bits")
        self.direction = direction
        self.maxFrameSize = maxFrameSize
        self.io = PipeIO(fd: fd, isSocket: direction == .duplex, maxFrameSize: maxFrameSize)
    }

    deinit {
        io.close()
    }

    /// Makes a duplex pipe: two connected ends that both send and receive.
    ///
    /// - Parameter maxFrameSize: The largest frame either end sends or accepts.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system has no descriptors left.
    public static func duplex(maxFrameSize: Int = defaultMaxFrameSize) throws(IPCError) -> (Pipe, Pipe) {
        switch Syscall.socketPair() {
        case .success(let (first, second)):
            _ = Syscall.setNonBlocking(first)
            _ = Syscall.setNonBlocking(second)
            return (
                Pipe(fd: first, direction: .duplex, maxFrameSize: maxFrameSize),
                Pipe(fd: second, direction: .duplex, maxFrameSize: maxFrameSize)
            )
        case .failure(let error):
            throw IPCError("socketpair", error, "close unused descriptors or raise the descriptor limit")
        }
    }

    /// Makes a one-way pipe.
    ///
    /// - Parameter maxFrameSize: The largest frame sent or accepted.
    /// - Returns: The receiving end and the sending end.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system has no descriptors left.
    public static func oneWay(
        maxFrameSize: Int = defaultMaxFrameSize
    ) throws(IPCError) -> (receiving: Pipe, sending: Pipe) {
        switch Syscall.pipe() {
        case .success(let (readEnd, writeEnd)):
            _ = Syscall.setNonBlocking(readEnd)
            _ = Syscall.setNonBlocking(writeEnd)
            return (
                Pipe(fd: readEnd, direction: .receiving, maxFrameSize: maxFrameSize),
                Pipe(fd: writeEnd, direction: .sending, maxFrameSize: maxFrameSize)
            )
        case .failure(let error):
            throw IPCError("pipe2", error, "close unused descriptors or raise the descriptor limit")
        }
    }

    /// Opens a pipe end that this process inherited from its parent, and takes ownership of the descriptor. It is
    /// made close-on-exec, so this process's own children do not inherit it in turn.
    ///
    /// - Parameters:
    ///   - descriptor: The inherited descriptor, for example from ``IPCDescriptor/inherited(fromEnvironment:)``.
    ///   - maxFrameSize: The largest frame sent or accepted; use the same limit on both ends.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the descriptor is neither a socket nor one end of a pipe.
    public convenience init(
        inheriting descriptor: IPCDescriptor,
        maxFrameSize: Int = defaultMaxFrameSize
    ) throws(IPCError) {
        let fd = descriptor.rawValue
        let direction: Direction
        if Syscall.isSocket(fd) {
            direction = .duplex
        } else {
            switch Syscall.accessMode(fd) {
            case .success(let mode) where mode == .receiving || mode == .sending:
                direction = mode
            default:
                throw IPCError(.invalidSegment, "descriptor \(fd) is not an end of a pipe or a socket")
            }
        }
        _ = Syscall.setCloseOnExec(fd)
        _ = Syscall.setNonBlocking(fd)
        self.init(fd: fd, direction: direction, maxFrameSize: maxFrameSize)
    }

    /// This end's descriptor, to hand to a child process by inheritance. This object still owns and closes it.
    /// It is close-on-exec: map it into the child with a `posix_spawn` `dup2` file action.
    public var descriptor: IPCDescriptor { IPCDescriptor(rawValue: io.fd) }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { io.isClosed }

    /// Closes this end. The other end receives what was already sent, then ``IPCError/Code/endOfStream``.
    /// A call blocked on this end in another thread ends within 100 ms with ``IPCError/Code/closed``. Calling
    /// `close` again does nothing.
    public func close() {
        io.close()
    }

    // MARK: Sending

    /// Sends a value.
    ///
    /// - Parameters:
    ///   - value: The value, encoded with `WireEncoder`.
    ///   - timeout: How long to wait for room in the pipe; `nil` waits as long as it takes. Once part of a frame
    ///     is written, a timeout leaves the pipe unusable (the other end would see a cut frame).
    /// - Throws: ``IPCError/Code/tooLarge`` (nothing sent) if the encoding is above ``maxFrameSize``,
    ///   ``IPCError/Code/encodingFailed``, ``IPCError/Code/peerClosed``, ``IPCError/Code/timedOut``,
    ///   ``IPCError/Code/closed``.
    public func send<Value: Encodable>(_ value: Value, timeout: Duration? = nil) throws(IPCError) {
        try io.send(frameFor(value), deadline: IPCDeadline(timeout: timeout), stop: nil)
    }

    /// Sends raw bytes, without encoding; receive them with ``receiveBytes(timeout:)-5lkid``.
    ///
    /// - Throws: As ``send(_:timeout:)-66qdo``.
    public func send(bytes: [UInt8], timeout: Duration? = nil) throws(IPCError) {
        let (header, payload) = try bytesFrame(bytes)
        try io.send(header, then: payload, deadline: IPCDeadline(timeout: timeout), stop: nil)
    }

    /// Sends a file descriptor, such as a ``SharedMemory`` segment's, to the other process; it receives its own
    /// descriptor for the same file with ``receiveDescriptor(timeout:)``. This end keeps its own descriptor.
    ///
    /// - Parameters:
    ///   - descriptor: The descriptor to share.
    ///   - tag: A number the receiver gets with it, to tell descriptors apart.
    ///   - timeout: How long to wait for room in the pipe; `nil` waits as long as it takes. As with
    ///     ``send(_:timeout:)-66qdo``, a timeout once part of the frame is written leaves the pipe unusable.
    /// - Throws: ``IPCError/Code/peerClosed``, ``IPCError/Code/timedOut``, ``IPCError/Code/closed``.
    public func send(descriptor: IPCDescriptor, tag: UInt64 = 0, timeout: Duration? = nil) throws(IPCError) {
        precondition(direction == .duplex, "only duplex pipes (Unix sockets) can carry descriptors")
        var frame: [UInt8] = []
        Frame.appendHeader(kind: PipeIO.Kind.descriptor, length: 8, to: &frame)
        withUnsafeBytes(of: tag.littleEndian) { frame.append(contentsOf: $0) }
        try io.send(frame, attaching: descriptor.rawValue, deadline: IPCDeadline(timeout: timeout), stop: nil)
    }

    /// The frame for raw bytes: one array for a small payload; for a large one, the header alone and the payload,
    /// which is then written from its own storage rather than copied behind the header.
    func bytesFrame(_ bytes: [UInt8]) throws(IPCError) -> (frame: [UInt8], payload: [UInt8]?) {
        try checkSendable(bytes.count)
        var frame: [UInt8] = []
        let separate = bytes.count >= Self.separatePayloadThreshold
        frame.reserveCapacity(Frame.headerSize + (separate ? 0 : bytes.count))
        Frame.appendHeader(kind: PipeIO.Kind.bytes, length: bytes.count, to: &frame)
        if separate { return (frame, bytes) }
        frame.append(contentsOf: bytes)
        return (frame, nil)
    }

    /// Raw payloads this large are written from their own storage, at the cost of one more write call.
    static var separatePayloadThreshold: Int { 64 << 10 }

    func frameFor<Value: Encodable>(_ value: Value) throws(IPCError) -> [UInt8] {
        precondition(direction.canSend, "this is the receiving end of a one-way pipe")
        var frame: [UInt8] = []
        Frame.appendHeader(kind: PipeIO.Kind.value, length: 0, to: &frame)
        do {
            try WireEncoder().encode(value, appendingTo: &frame)
        } catch {
            throw IPCError(.encodingFailed, "encoding \(Value.self) failed: \(error)")
        }
        let length = frame.count - Frame.headerSize
        try checkSendable(length)
        withUnsafeBytes(of: UInt32(length).littleEndian) { raw in
            for index in 0..<4 { frame[8 + index] = raw[index] }
        }
        return frame
    }

    private func checkSendable(_ length: Int) throws(IPCError) {
        precondition(direction.canSend, "this is the receiving end of a one-way pipe")
        guard length <= maxFrameSize else {
            throw IPCError(
                .tooLarge,
                "a message of \(length) bytes is above the pipe's limit of \(maxFrameSize) bytes; nothing was sent. "
                    + "Raise maxFrameSize on both ends, or send large data through SharedMemory"
            )
        }
    }

    // MARK: Receiving

    /// Receives a value of the given type, waiting for it if none has arrived.
    ///
    /// - Parameters:
    ///   - type: The type the sender encoded.
    ///   - timeout: How long to wait; `nil` waits as long as it takes. A timeout consumes nothing.
    /// - Throws: ``IPCError/Code/endOfStream`` once the other end is closed and everything it sent has been
    ///   received; ``IPCError/Code/timedOut``; ``IPCError/Code/decodingFailed`` (the frame is consumed) if the bytes
    ///   are not a `T`; ``IPCError/Code/unexpectedMessage`` if raw bytes or a descriptor came instead;
    ///   ``IPCError/Code/tooLarge`` or ``IPCError/Code/corruptStream`` if the peer broke the framing (the pipe is
    ///   then unusable); ``IPCError/Code/closed``.
    public func receive<Value: Decodable>(_ type: Value.Type, timeout: Duration? = nil) throws(IPCError) -> Value {
        precondition(direction.canReceive, "this is the sending end of a one-way pipe")
        let frame = try io.receive(deadline: IPCDeadline(timeout: timeout), stop: nil)
        return try Self.decode(type, from: frame)
    }

    /// Receives raw bytes sent with ``send(bytes:timeout:)-9y0qo``.
    ///
    /// - Throws: As ``receive(_:timeout:)-2zmom``; ``IPCError/Code/unexpectedMessage`` if a value came instead.
    public func receiveBytes(timeout: Duration? = nil) throws(IPCError) -> [UInt8] {
        precondition(direction.canReceive, "this is the sending end of a one-way pipe")
        let frame = try io.receive(deadline: IPCDeadline(timeout: timeout), stop: nil)
        return try Self.bytes(from: frame)
    }

    /// Receives a descriptor sent with ``send(descriptor:tag:timeout:)``. The caller owns the new descriptor: adopt
    /// it, for example with ``SharedMemory/init(adopting:)``, or close it.
    ///
    /// - Returns: The descriptor, open in this process, and the sender's tag.
    /// - Throws: As ``receive(_:timeout:)-2zmom``; ``IPCError/Code/unexpectedMessage`` if a value or bytes came
    ///   instead.
    public func receiveDescriptor(
        timeout: Duration? = nil
    ) throws(IPCError) -> (descriptor: IPCDescriptor, tag: UInt64) {
        precondition(direction == .duplex, "only duplex pipes (Unix sockets) can carry descriptors")
        let frame = try io.receive(deadline: IPCDeadline(timeout: timeout), stop: nil)
        guard frame.kind == PipeIO.Kind.descriptor, let fd = frame.descriptor else {
            throw Self.unexpected(frame, expected: "a descriptor")
        }
        return (IPCDescriptor(rawValue: fd), frame.tag)
    }

    /// Waits until a receive would not block: a whole message has arrived, or the other end was closed.
    ///
    /// - Parameter timeout: How long to wait; zero checks without waiting.
    /// - Returns: `true` if a receive would return at once (with a message or an error), `false` on timeout.
    ///   Nothing is consumed.
    /// - Throws: ``IPCError/Code/closed`` if this end is closed.
    public func poll(timeout: Duration = .zero) throws(IPCError) -> Bool {
        precondition(direction.canReceive, "this is the sending end of a one-way pipe")
        return try io.poll(deadline: IPCDeadline(timeout: timeout), stop: nil)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from frame: PipeIO.Received) throws(IPCError) -> Value {
        guard frame.kind == PipeIO.Kind.value else { throw unexpected(frame, expected: "a \(Value.self)") }
        do {
            return try WireDecoder().decode(type, from: frame.payload)
        } catch {
            throw IPCError(
                .decodingFailed,
                "a message of \(frame.payload.count) bytes is not a valid \(Value.self) (\(error)); it was consumed. "
                    + "Do both ends send and receive the same type?"
            )
        }
    }

    static func bytes(from frame: PipeIO.Received) throws(IPCError) -> [UInt8] {
        guard frame.kind == PipeIO.Kind.bytes else { throw unexpected(frame, expected: "raw bytes") }
        return frame.payload
    }

    static func unexpected(_ frame: PipeIO.Received, expected: String) -> IPCError {
        if let fd = frame.descriptor { Syscall.close(fd) }
        let got =
            switch frame.kind {
            case PipeIO.Kind.value: "an encoded value"
            case PipeIO.Kind.bytes: "raw bytes"
            case PipeIO.Kind.descriptor: "a descriptor"
            case PipeIO.Kind.sharedPayload: "a shared-memory payload"
            default: "a message of kind \(frame.kind)"
            }
        return IPCError(.unexpectedMessage, "expected \(expected) but received \(got); it was consumed")
    }
}
#endif
