/// One message between Triad processes: a kind, flags and a payload.
///
/// On the wire a frame is a 12-byte header (the magic bytes `TRD`, the protocol version, the kind, the flags, two
/// reserved zero bytes and a little-endian 32-bit payload length) followed by the payload. The magic bytes and the
/// version let a reader tell garbage and foreign peers from Triad's own frames at the first byte.
package struct Frame: Sendable, Hashable {
    /// The header's size in bytes.
    package static let headerSize = 12
    /// The protocol version this build speaks. A peer with another version is refused at the handshake.
    package static let protocolVersion: UInt8 = 1
    /// The default largest payload a reader accepts: 1 GiB.
    package static let defaultMaxPayload = 1 << 30

    private static let magic: (UInt8, UInt8, UInt8) = (0x54, 0x52, 0x44)  // "TRD"

    /// What the frame carries; each transport gives its kinds their meaning.
    package var kind: UInt8
    /// Flags whose meaning depends on the kind.
    package var flags: UInt8
    /// The payload, usually a ``WireEncoder`` encoding.
    package var payload: [UInt8]

    package init(kind: UInt8, flags: UInt8 = 0, payload: [UInt8] = []) {
        self.kind = kind
        self.flags = flags
        self.payload = payload
    }

    /// Appends a frame's header for a payload of `length` bytes. The caller appends the payload next.
    package static func appendHeader(kind: UInt8, flags: UInt8 = 0, length: Int, to bytes: inout [UInt8]) {
        precondition(length >= 0 && length <= Int(UInt32.max), "a frame payload must fit in 32 bits")
        bytes.append(magic.0)
        bytes.append(magic.1)
        bytes.append(magic.2)
        bytes.append(protocolVersion)
        bytes.append(kind)
        bytes.append(flags)
        bytes.append(0)
        bytes.append(0)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// The frame's bytes: header and payload.
    package var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Frame.headerSize + payload.count)
        Frame.appendHeader(kind: kind, flags: flags, length: payload.count, to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Parses a header and returns the kind, the flags and the payload length.
    ///
    /// - Throws: ``WireError/Code/corruptFrame`` for wrong magic bytes, version or reserved bytes, and
    ///   ``WireError/Code/frameTooLarge`` for a length above `maxPayload`.
    package static func parseHeader(
        _ header: UnsafeRawBufferPointer,
        maxPayload: Int
    ) throws(WireError) -> (kind: UInt8, flags: UInt8, length: Int) {
        precondition(header.count >= headerSize)
        guard header[0] == magic.0, header[1] == magic.1, header[2] == magic.2 else {
            let shown = header.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")
            throw WireError(
                .corruptFrame,
                "the stream does not hold Triad frames (it starts with bytes \(shown)); something else wrote to it"
            )
        }
        guard header[3] == protocolVersion else {
            throw WireError(
                .corruptFrame,
                "the peer speaks wire protocol version \(header[3]), this build speaks \(protocolVersion); "
                    + "run the same build on both sides"
            )
        }
        guard header[6] == 0, header[7] == 0 else {
            throw WireError(.corruptFrame, "a frame header's reserved bytes are not zero; the stream is corrupt")
        }
        let length = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        guard length <= maxPayload else {
            throw WireError(
                .frameTooLarge,
                "a frame of \(length) bytes is above the limit of \(maxPayload) bytes; raise the limit or send less"
            )
        }
        return (header[4], header[5], length)
    }
}

/// Cuts a byte stream into frames, whatever the sizes of the chunks it arrives in.
///
/// A reader never buffers more than one header plus the largest payload it accepts, so a peer cannot make it
/// allocate without bound.
package struct FrameReader: Sendable {
    /// The largest payload accepted.
    package let maxPayload: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: WireError?

    package init(maxPayload: Int = Frame.defaultMaxPayload) {
        self.maxPayload = maxPayload
    }

    /// Bytes received but not yet returned as frames.
    package var bufferedCount: Int { buffer.count - start }

    /// Adds bytes read from the stream.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the stream.
    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Returns the next whole frame, or `nil` if more bytes are needed.
    ///
    /// - Throws: ``WireError`` for a corrupt or oversized header. After an error the stream cannot be trusted,
    ///   and every later call throws the same error.
    package mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        guard bufferedCount >= Frame.headerSize else { return nil }
        let headerStart = start
        let parsed = buffer.withUnsafeBytes { raw in
            Result { () throws(WireError) in
                try Frame.parseHeader(UnsafeRawBufferPointer(rebasing: raw[headerStart...]), maxPayload: maxPayload)
            }
        }
        let header: (kind: UInt8, flags: UInt8, length: Int)
        switch parsed {
        case .success(let value):
            header = value
        case .failure(let error):
            failure = error
            throw error
        }
        guard bufferedCount >= Frame.headerSize + header.length else { return nil }
        let payloadStart = start + Frame.headerSize
        let payload = Array(buffer[payloadStart..<payloadStart + header.length])
        start = payloadStart + header.length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        } else if start > 1 << 20 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        return Frame(kind: header.kind, flags: header.flags, payload: payload)
    }

    /// Starts a frame whose payload is too large to gather through the reader's buffer: when the buffered bytes
    /// are one header and part of a payload of at least `threshold` bytes, takes them out of the reader and
    /// returns the frame with its payload array at full length, holding the part that arrived. The caller reads the
    /// rest of the payload straight into that array (exactly the rest, since the next frame's bytes belong to the
    /// reader), which spares the two copies of every byte that the reader's buffer costs.
    ///
    /// Call it after ``next()`` returned `nil`, which has checked the header.
    package mutating func takeLargeFrame(threshold: Int) -> PartialFrame? {
        guard failure == nil, bufferedCount >= Frame.headerSize else { return nil }
        let headerStart = start
        let header = buffer.withUnsafeBytes { raw in
            try? Frame.parseHeader(UnsafeRawBufferPointer(rebasing: raw[headerStart...]), maxPayload: maxPayload)
        }
        guard let header, header.length >= threshold else { return nil }
        let arrived = bufferedCount - Frame.headerSize
        guard arrived < header.length else { return nil }
        let payloadStart = start + Frame.headerSize
        // The rest of the array is written by the caller's reads before anyone reads it.
        let payload = [UInt8](unsafeUninitializedCapacity: header.length) { destination, count in
            buffer.withUnsafeBytes { source in
                let part = UnsafeRawBufferPointer(rebasing: source[payloadStart..<payloadStart + arrived])
                UnsafeMutableRawBufferPointer(destination).copyMemory(from: part)
            }
            count = header.length
        }
        buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
        start = 0
        return PartialFrame(kind: header.kind, flags: header.flags, payload: payload, filled: arrived)
    }

    /// Checks the stream ended cleanly, between frames.
    ///
    /// - Throws: ``WireError/Code/truncated`` if it ended inside a frame.
    package func finish() throws(WireError) {
        if let failure { throw failure }
        guard bufferedCount == 0 else {
            throw WireError(.truncated, "the stream ended inside a frame, \(bufferedCount) bytes into it")
        }
    }
}

/// A frame whose payload is being read straight into place: see ``FrameReader/takeLargeFrame(threshold:)``.
package struct PartialFrame: Sendable {
    package var kind: UInt8
    package var flags: UInt8
    /// The payload at full length; its first `filled` bytes have arrived.
    package var payload: [UInt8]
    package var filled: Int

    /// The bytes still to come.
    package var remaining: Int { payload.count - filled }

    /// The frame, once every byte has arrived.
    package var frame: Frame {
        precondition(remaining == 0, "the frame is not complete")
        return Frame(kind: kind, flags: flags, payload: payload)
    }
}
