/// Cuts a byte stream into frames, whatever the sizes of the chunks it arrives in: the one frame reader of every
/// Triad transport (a pool's worker socket on both sides, a ``Pipe``).
///
/// The transport reads into the space the reader offers (``fill(_:)``), then takes frames out (``next()``) until
/// none is complete. Small frames come out of one fixed buffer, so one read serves many of them. A payload larger
/// than half the buffer gets its own array at once, and the reader offers the rest of that payload as the space
/// for the next reads, so its bytes are read straight into place, never copied through the buffer; the reads stop
/// at the payload's end, so the next frame's bytes (and, on a Unix socket, a descriptor sent with them) stay in
/// the stream until the frame before them is whole.
///
/// A reader never holds more than its buffer plus the largest payload it accepts, so a peer cannot make it
/// allocate without bound. It is not copyable: it owns its buffer, and one owner reads one stream.
package struct FrameReader: ~Copyable, @unchecked Sendable {
    // @unchecked: the buffer is owned by this value alone, and the value cannot be copied, so whoever holds the
    // reader holds the only access to its buffer.

    /// The largest payload accepted.
    package let maxPayload: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// A large frame whose payload is being read straight into its array.
    private var large: PartialFrame?
    private var failure: WireError?

    /// Makes a reader.
    ///
    /// - Parameters:
    ///   - maxPayload: The largest payload accepted; a larger one is ``WireError/Code/frameTooLarge``.
    ///   - bufferSize: The size of the buffer small frames pass through. Payloads above half of it are read
    ///     straight into their own arrays.
    package init(maxPayload: Int = Frame.defaultMaxPayload, bufferSize: Int = 64 << 10) {
        precondition(bufferSize >= 2 * Frame.headerSize, "a frame reader's buffer must hold at least two headers")
        self.maxPayload = maxPayload
        self.buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Payloads above this size are read straight into their own arrays.
    private var directThreshold: Int { buffer.count / 2 }

    /// The bytes of unfinished frames held: read, but not yet returned as frames.
    package var bufferedCount: Int { end - start + (large.map { Frame.headerSize + $0.filled } ?? 0) }

    /// Whether bytes of an unfinished frame are held.
    package var holdsPartialFrame: Bool { end > start || large != nil }

    /// Whether a whole frame is among the bytes already read, so that ``next()`` returns it (or throws) without a
    /// read.
    package var hasCompleteFrame: Bool {
        if let large { return large.remaining == 0 }
        guard end - start >= Frame.headerSize else { return false }
        let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start + 8, as: UInt32.self)))
        return end - start - Frame.headerSize >= length
    }

    /// Returns the next whole frame among the bytes already read, or nil if more must be read.
    ///
    /// - Throws: ``WireError`` for a corrupt or oversized header. After an error the stream cannot be trusted,
    ///   and every later call throws the same error.
    package mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        if let pending = large {
            guard pending.remaining == 0 else { return nil }
            large = nil
            return pending.frame
        }
        guard let header = try bufferedHeader() else { return nil }
        let available = end - start - Frame.headerSize
        let payloadStart = start + Frame.headerSize
        if header.length <= available {
            let payload = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[payloadStart..<payloadStart + header.length]))
            start = payloadStart + header.length
            if start == end { (start, end) = (0, 0) }
            return Frame(kind: header.kind, flags: header.flags, payload: payload)
        }
        if header.length > directThreshold {
            // Large: the payload gets its own array now, and the reads fill the rest of it in place. The array is
            // not cleared first (the reads write every byte before the frame is returned), and a big one is
            // prepared (given huge pages, where the program installed that), so filling it does not fault every
            // page.
            let payload = [UInt8](unsafeUninitializedCapacity: header.length) { target, initialized in
                let raw = UnsafeMutableRawBufferPointer(target)
                WireLargeBuffers.prepare(raw)
                raw.baseAddress!.copyMemory(from: buffer.baseAddress! + payloadStart, byteCount: available)
                initialized = header.length
            }
            large = PartialFrame(kind: header.kind, flags: header.flags, payload: payload, filled: available)
            (start, end) = (0, 0)
        }
        return nil
    }

    /// The header at the front of the buffer, checked, or nil if it has not all arrived.
    private mutating func bufferedHeader() throws(WireError) -> (kind: UInt8, flags: UInt8, length: Int)? {
        guard end - start >= Frame.headerSize else { return nil }
        do {
            return try Frame.parseHeader(
                UnsafeRawBufferPointer(rebasing: buffer[start..<start + Frame.headerSize]),
                maxPayload: maxPayload
            )
        } catch {
            failure = error
            throw error
        }
    }

    /// Reads more of the stream: calls `read` with the space the next bytes belong in (the rest of a large
    /// payload, or the buffer's free end) and keeps the bytes it reports. `read` returns how many bytes it wrote
    /// at the start of that space, 0 at the end of the stream, or nil when nothing is there now.
    ///
    /// Take frames out with ``next()`` until it returns nil before reading more.
    @discardableResult
    package mutating func fill<Failure: Error>(
        _ read: (UnsafeMutableRawBufferPointer) throws(Failure) -> Int?
    ) throws(Failure) -> Int? {
        // The large payload's read is a function of its own: its `Result` needs the metadata of a generic type,
        // which a caller in another module would otherwise look up on every call, with or without a large payload.
        if large != nil { return try fillLarge(read) }
        if start > 0 {
            let count = end - start
            if count > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count) }
            (start, end) = (0, count)
        }
        // A frame that does not fit is large: `next()` has moved it out of the buffer already.
        precondition(end < buffer.count, "take frames out with next() before reading more")
        let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if let count { end += count }
        return count
    }

    /// ``fill(_:)`` for the rest of a large payload, read straight into its array.
    private mutating func fillLarge<Failure: Error>(
        _ read: (UnsafeMutableRawBufferPointer) throws(Failure) -> Int?
    ) throws(Failure) -> Int? {
        guard var pending = large.take() else { return nil }
        // The payload array has one owner while it is written, so it is written in place.
        defer { large = pending }
        let filled = pending.filled
        // `withUnsafeMutableBytes` rethrows untyped errors: the typed one travels in a Result.
        let outcome = pending.payload.withUnsafeMutableBytes { target in
            Result { () throws(Failure) in try read(UnsafeMutableRawBufferPointer(rebasing: target[filled...])) }
        }
        let count = try outcome.get()
        if let count { pending.filled += count }
        return count
    }

    /// The error for a stream that ended now: nil if it ended between frames, ``WireError/Code/truncated`` if it
    /// ended inside one, or the error the stream already failed with.
    package func endOfStreamError() -> WireError? {
        if let failure { return failure }
        guard holdsPartialFrame else { return nil }
        return WireError(.truncated, "the stream ended inside a frame, \(bufferedCount) bytes into it")
    }
}

/// A frame whose payload is being read straight into place.
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
