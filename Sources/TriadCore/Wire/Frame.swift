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
        // The first eight bytes as one little-endian word, and the header in one append: eight appends of a byte
        // each checked the array's capacity eight times, for every frame.
        let fixed =
            UInt64(magic.0) | UInt64(magic.1) << 8 | UInt64(magic.2) << 16 | UInt64(protocolVersion) << 24
            | UInt64(kind) << 32 | UInt64(flags) << 40
        // A pair of 8 and 4 bytes takes exactly the header's 12, with no padding after it.
        withUnsafeBytes(of: (fixed.littleEndian, UInt32(truncatingIfNeeded: length).littleEndian)) { header in
            assert(header.count == headerSize)
            bytes.append(contentsOf: header)
        }
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
