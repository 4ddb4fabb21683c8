#if os(Linux)
import CTriadShims
import Glibc
import SystemPackage
import TriadCore

/// Cuts the byte stream of one socket into frames. Small frames come out of one 64 KiB buffer, so one read serves
/// many of them; a payload larger than half the buffer is read straight into its own array, without a second copy.
///
/// Not Sendable on purpose: it owns a raw buffer and belongs to the one thread that reads the socket.
final class SocketFrameReader {
    let fd: Int32
    let maxPayload: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var large: (kind: UInt8, flags: UInt8, payload: [UInt8], filled: Int)?
    private var failure: WireError?

    init(fd: Int32, maxPayload: Int) {
        self.fd = fd
        self.maxPayload = maxPayload
        self.buffer = .allocate(byteCount: 64 * 1024, alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// Whether bytes of an unfinished frame are held.
    var holdsPartialFrame: Bool { end > start || large != nil }

    /// Whether a whole frame is among the bytes already read.
    var hasCompleteFrame: Bool {
        if let pending = large { return pending.filled == pending.payload.count }
        guard end - start >= Frame.headerSize else { return false }
        let length = Int(
            UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start + 8, as: UInt32.self))
        )
        return end - start - Frame.headerSize >= length
    }

    /// Returns the next whole frame among the bytes already read, or nil if more must be read.
    func nextBuffered() throws(WireError) -> Frame? {
        if let failure { throw failure }
        if let pending = large {
            guard pending.filled == pending.payload.count else { return nil }
            large = nil
            return Frame(kind: pending.kind, flags: pending.flags, payload: pending.payload)
        }
        guard end - start >= Frame.headerSize else { return nil }
        let header: (kind: UInt8, flags: UInt8, length: Int)
        do {
            header = try Frame.parseHeader(
                UnsafeRawBufferPointer(rebasing: buffer[start..<start + Frame.headerSize]),
                maxPayload: maxPayload
            )
        } catch {
            failure = error
            throw error
        }
        let available = end - start - Frame.headerSize
        let payloadStart = start + Frame.headerSize
        if header.length <= available {
            let payload = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[payloadStart..<payloadStart + header.length]))
            start = payloadStart + header.length
            if start == end { (start, end) = (0, 0) }
            return Frame(kind: header.kind, flags: header.flags, payload: payload)
        }
        if header.length > buffer.count / 2 {
            // Large: give the payload its own array and read the rest of it straight there. The array is not
            // cleared first (the socket fills every byte before the frame is returned), and a big one asks for huge
            // pages, so that filling it does not fault every 4 KiB.
            let payload = [UInt8](unsafeUninitializedCapacity: header.length) { target, initialized in
                if target.count >= 4 << 20 { triad_ipc_advise_huge_pages(target.baseAddress, target.count) }
                UnsafeMutableRawBufferPointer(target).baseAddress!.copyMemory(
                    from: buffer.baseAddress! + payloadStart, byteCount: available
                )
                initialized = header.length
            }
            large = (header.kind, header.flags, payload, available)
            (start, end) = (0, 0)
        }
        return nil
    }

    /// Reads what the socket has without blocking. Returns the byte count, 0 at end of stream; EAGAIN when empty.
    func fill() -> Result<Int, Errno> {
        if var pending = large {
            large = nil
            let result = pending.payload.withUnsafeMutableBytes { target in
                Syscall.recvNonBlocking(fd, into: UnsafeMutableRawBufferPointer(rebasing: target[pending.filled...]))
            }
            if case .success(let count) = result { pending.filled += count }
            large = pending
            return result
        }
        if start > 0 {
            let count = end - start
            if count > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count) }
            (start, end) = (0, count)
        }
        let result = Syscall.recvNonBlocking(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if case .success(let count) = result { end += count }
        return result
    }

    /// The error for a stream that ended now: nil if it ended between frames.
    func endOfStreamError() -> WireError? {
        if let failure { return failure }
        guard holdsPartialFrame else { return nil }
        return WireError(.truncated, "the stream ended inside a frame, \(end - start) bytes into it")
    }
}

enum SocketWriter {
    /// Writes as much of `message` as the socket takes now. Returns the bytes written; EAGAIN counts as zero.
    static func writeSome(_ fd: Int32, _ message: OutgoingMessage) -> Result<Int, Errno> {
        write(fd, message, blocking: false)
    }

    /// Writes the whole message, blocking as needed.
    static func writeAll(_ fd: Int32, _ message: OutgoingMessage) -> Result<Void, Errno> {
        var rest = message
        while !rest.isEmpty {
            switch write(fd, rest, blocking: true) {
            case .success(let count): rest.dropFirst(count)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(())
    }

    private static func write(_ fd: Int32, _ message: OutgoingMessage, blocking: Bool) -> Result<Int, Errno> {
        let segments = message.segments
        let count = min(segments.count, 64)
        return withVectors(segments[..<count]) { iov in
            let result =
                blocking
                ? Syscall.sendBlocking(fd, iov.baseAddress!, count: iov.count)
                : Syscall.sendNonBlocking(fd, iov.baseAddress!, count: iov.count)
            if case .failure(let error) = result, error == .again || error.rawValue == EWOULDBLOCK {
                return .success(0)
            }
            return result
        }
    }

    /// Calls `body` with iovecs over `segments`, which stay alive for the call.
    private static func withVectors<R>(
        _ segments: ArraySlice<OutgoingSegment>,
        _ body: (UnsafeBufferPointer<iovec>) -> R
    ) -> R {
        var vectors = [iovec](repeating: iovec(), count: segments.count)
        return withExtendedLifetime(segments) {
            for (index, segment) in segments.enumerated() {
                // The segments outlive the call thanks to withExtendedLifetime; their storage does not move.
                let base = segment.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
                vectors[index] = iovec(iov_base: base, iov_len: segment.count)
            }
            return vectors.withUnsafeBufferPointer(body)
        }
    }
}
#endif
