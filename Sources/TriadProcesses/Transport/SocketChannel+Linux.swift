#if os(Linux)
import CTriadShims
import Glibc
import SystemPackage
import TriadCore

/// The frame reader of one non-blocking socket, read by the one thread that owns it: the pool's driver of a worker,
/// or the worker's loop.
final class SocketFrameReader {
    let fd: Int32
    private var reader: FrameReader

    init(fd: Int32, maxPayload: Int) {
        self.fd = fd
        self.reader = FrameReader(maxPayload: maxPayload)
    }

    /// Whether a whole frame is among the bytes already read.
    var hasCompleteFrame: Bool { reader.hasCompleteFrame }

    /// Returns the next whole frame among the bytes already read, or nil if more must be read.
    func nextBuffered() throws(WireError) -> Frame? {
        try reader.next()
    }

    /// Reads what the socket has without blocking. Returns the byte count, 0 at end of stream; EAGAIN when empty.
    func fill() -> Result<Int, Errno> {
        let fd = self.fd
        return Result { () throws(Errno) -> Int in
            try reader.fill { (space: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? in
                try Syscall.recvNonBlocking(fd, into: space).get()
            } ?? 0
        }
    }

    /// The error for a stream that ended now: nil if it ended between frames.
    func endOfStreamError() -> WireError? {
        reader.endOfStreamError()
    }
}

enum SocketWriter {
    /// Writes the whole message, blocking as needed.
    static func writeAll(_ fd: Int32, _ message: OutgoingMessage) -> Result<Void, Errno> {
        var rest = message
        while !rest.isEmpty {
            switch write(fd, rest) {
            case .success(let count): rest.dropFirst(count)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(())
    }

    /// Writes as much of `message` as one blocking send takes.
    private static func write(_ fd: Int32, _ message: OutgoingMessage) -> Result<Int, Errno> {
        let segments = message.segments
        let count = min(segments.count, 64)
        return withVectors(segments[..<count]) { iov in
            Syscall.sendBlocking(fd, iov.baseAddress!, count: iov.count)
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
