#if os(Linux)
import Glibc

/// What a worker writes to its standard error, on its way to the parent's: each read is passed on at once, and the
/// last ``capacity`` bytes are kept, so that a worker that dies (a `fatalError`, a failed precondition) leaves its
/// last words in the error of the job it was running. Owned by the worker's driver thread.
struct WorkerOutput: ~Copyable {
    /// The most bytes kept.
    static let capacity = 4096

    private var fd: Int32
    private var tail: [UInt8] = []
    private var buffer = [UInt8](repeating: 0, count: 16_384)
    private var trimmed = false

    /// Takes ownership of `fd`, the non-blocking read end of the worker's standard error; -1 for none.
    init(fd: Int32) { self.fd = fd }

    deinit { if fd >= 0 { Syscall.close(fd) } }

    /// Closes the pipe; what it still holds is lost. Called before the worker's end is reported, so that a pool
    /// shut down has given back every descriptor.
    mutating func close() {
        if fd >= 0 { Syscall.close(fd) }
        fd = -1
    }

    /// The descriptor to poll for reading, or -1.
    var descriptor: Int32 { fd }

    /// Reads what the pipe holds now, passes it on to the parent's standard error and keeps its end.
    mutating func drain() {
        guard fd >= 0 else { return }
        while true {
            let count = buffer.withUnsafeMutableBytes { Syscall.read(fd, into: $0) }
            guard case .success(let read) = count, read > 0 else { return }
            buffer.withUnsafeBytes { bytes in
                var offset = 0
                while offset < read {
                    let written = Glibc.write(2, bytes.baseAddress! + offset, read - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { break }
                    offset += written
                }
            }
            tail.append(contentsOf: buffer[..<read])
            if tail.count > Self.capacity {
                tail.removeFirst(tail.count - Self.capacity)
                trimmed = true
            }
        }
    }

    /// The last lines kept, without a trailing newline; a line cut by the bound is left out.
    var lastLines: String {
        var bytes = tail[...]
        if trimmed, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) { bytes = bytes[(newline + 1)...] }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            bytes = bytes.dropLast()
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
#endif
