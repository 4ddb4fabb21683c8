#if os(Linux)
import TriadCore

// Arrays sent through a duplex pipe inline when small, and through shared memory when large.
extension Pipe {
    /// The default size from which ``send(payload:using:threshold:timeout:)`` moves an array through shared memory:
    /// 256 KiB.
    public static var defaultSharedPayloadThreshold: Int { 256 << 10 }

    /// Sends an array of plain values: inline in a frame when it is smaller than `threshold` bytes, otherwise by
    /// copying it into `writer`'s shared segment and sending a small reference (and, the first time a segment is
    /// used, its descriptor). The receiver calls ``receivePayload(_:using:timeout:)`` either way.
    ///
    /// The writer keeps every payload it wrote readable until its ``SharedPayloadWriter/reset()``; call `reset`
    /// once the receiver has read them all, for example when its reply arrives, and the segment is reused from its
    /// start.
    ///
    /// - Parameters:
    ///   - payload: The array, of any `BitwiseCopyable` element type such as `UInt8` or `Double`.
    ///   - writer: The shared-memory writer for this pipe's direction.
    ///   - threshold: The size in bytes from which the array goes through shared memory.
    ///   - timeout: As ``send(_:timeout:)-66qdo``.
    /// - Throws: As ``send(bytes:timeout:)-9y0qo``; ``IPCError/Code/tooLarge`` only for an inline array above
    ///   ``maxFrameSize``.
    public func send<Element: BitwiseCopyable>(
        payload: [Element],
        using writer: SharedPayloadWriter,
        threshold: Int = defaultSharedPayloadThreshold,
        timeout: Duration? = nil
    ) throws(IPCError) {
        precondition(direction == .duplex, "shared payloads need a duplex pipe, which can carry descriptors")
        let byteCount = payload.count * MemoryLayout<Element>.stride
        guard byteCount >= threshold else {
            let bytes = payload.withUnsafeBytes { [UInt8]($0) }
            try send(bytes: bytes, timeout: timeout)
            return
        }
        let (reference, newSegment) = try writer.write(payload)
        if let newSegment {
            try send(descriptor: newSegment.memory.descriptor, tag: newSegment.id, timeout: timeout)
        }
        var frame: [UInt8] = []
        Frame.appendHeader(kind: PipeIO.Kind.sharedPayload, length: 24, to: &frame)
        for field in [reference.segment, UInt64(reference.offset), UInt64(reference.byteCount)] {
            withUnsafeBytes(of: field.littleEndian) { frame.append(contentsOf: $0) }
        }
        try io.send(frame, deadline: IPCDeadline(timeout: timeout), stop: nil)
    }

    /// Receives an array sent with ``send(payload:using:threshold:timeout:)``, mapping any shared segment that
    /// arrives into `reader`.
    ///
    /// - Parameters:
    ///   - type: The array type the sender sent.
    ///   - reader: The shared-memory reader for this pipe's direction.
    ///   - timeout: As ``receive(_:timeout:)-2zmom``; it applies to each message of the exchange.
    /// - Throws: As ``receiveBytes(timeout:)-5lkid``; ``IPCError/Code/unexpectedMessage`` if a value came instead;
    ///   ``IPCError/Code/invalidSegment`` if a reference does not match the segments received.
    public func receivePayload<Element: BitwiseCopyable>(
        _ type: [Element].Type,
        using reader: SharedPayloadReader,
        timeout: Duration? = nil
    ) throws(IPCError) -> [Element] {
        precondition(direction == .duplex, "shared payloads need a duplex pipe, which can carry descriptors")
        while true {
            let frame = try io.receive(deadline: IPCDeadline(timeout: timeout), stop: nil)
            switch frame.kind {
            case PipeIO.Kind.descriptor:
                try reader.adopt(IPCDescriptor(rawValue: frame.descriptor!), segment: frame.tag)
            case PipeIO.Kind.bytes:
                let stride = MemoryLayout<Element>.stride
                guard frame.payload.count % stride == 0 else {
                    throw IPCError(.decodingFailed, "\(frame.payload.count) bytes are not whole \(Element.self)s")
                }
                return frame.payload.withUnsafeBytes { raw in
                    [Element](unsafeUninitializedCapacity: raw.count / stride) { buffer, initialized in
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                        initialized = raw.count / stride
                    }
                }
            case PipeIO.Kind.sharedPayload where frame.payload.count == 24:
                let fields = frame.payload.withUnsafeBytes { raw in
                    (0..<3).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
                }
                let reference = SharedPayloadReference(
                    segment: fields[0], offset: Int(truncatingIfNeeded: fields[1]),
                    byteCount: Int(truncatingIfNeeded: fields[2])
                )
                return try reader.read(type, at: reference)
            default:
                throw Self.unexpected(frame, expected: "an array payload")
            }
        }
    }
}
#endif
