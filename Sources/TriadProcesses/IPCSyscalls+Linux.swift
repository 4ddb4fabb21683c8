#if os(Linux)
import CTriadShims
import Glibc

// Thin wrappers over the system calls that Triad's IPC makes. Each returns `Result<_, IPCErrno>` and retries
// on EINTR, so callers decide once what an error means.

/// A system error number.
struct IPCErrno: Error, Equatable {
    var rawValue: Int32
    init(_ rawValue: Int32) { self.rawValue = rawValue }
    static var current: IPCErrno { IPCErrno(Glibc.errno) }
}

extension IPCError {
    /// The system's text for an error number.
    static func describe(errno: Int32) -> String {
        String(cString: strerror(errno))
    }

    /// An error for a failed system call.
    init(_ call: String, _ errno: IPCErrno, _ advice: String = "") {
        let message = advice.isEmpty ? "\(call) failed" : "\(call) failed; \(advice)"
        self.init(.systemCallFailed, message, errno: errno.rawValue)
    }
}

enum IPCSyscall {
    /// Retries `body` while it fails with EINTR; `body` returns -1 and sets errno on failure.
    @inline(__always)
    static func retrying<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, IPCErrno> {
        while true {
            let result = body()
            if result != -1 { return .success(result) }
            let error = IPCErrno.current
            if error.rawValue != EINTR { return .failure(error) }
        }
    }

    /// Turns a `-errno`-or-value return of the C shim into a result.
    @inline(__always)
    static func negated<T: FixedWidthInteger & SignedInteger>(_ value: T) -> Result<T, IPCErrno> {
        value < 0 ? .failure(IPCErrno(Int32(truncatingIfNeeded: 0 - value))) : .success(value)
    }

    static func close(_ fd: Int32) {
        // Never retry close on Linux: the descriptor is released even when close reports EINTR.
        _ = Glibc.close(fd)
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, IPCErrno> {
        retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, isSocket: Bool) -> Result<Int, IPCErrno> {
        negated(triad_ipc_write(fd, buffer.baseAddress, buffer.count, isSocket ? 1 : 0))
    }

    static func poll(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Result<Int16, IPCErrno> {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return retrying { Glibc.poll(&entry, 1, timeoutMilliseconds) }.map { $0 == 0 ? 0 : entry.revents }
    }

    static func pipe() -> Result<(read: Int32, write: Int32), IPCErrno> {
        var fds: [Int32] = [-1, -1]
        let result = triad_ipc_pipe(&fds)
        return result == 0 ? .success((fds[0], fds[1])) : .failure(IPCErrno(result))
    }

    static func socketPair() -> Result<(Int32, Int32), IPCErrno> {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return retrying { socketpair(AF_UNIX, type, 0, &fds) }.map { _ in (fds[0], fds[1]) }
    }

    static func setNonBlocking(_ fd: Int32) -> Result<Void, IPCErrno> {
        retrying { fcntl(fd, F_GETFL) }.flatMap { flags in
            retrying { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }.map { _ in () }
        }
    }

    static func setCloseOnExec(_ fd: Int32) -> Result<Void, IPCErrno> {
        retrying { fcntl(fd, F_SETFD, FD_CLOEXEC) }.map { _ in () }
    }

    /// Whether `fd` names an open descriptor.
    static func isOpen(_ fd: Int32) -> Bool {
        fcntl(fd, F_GETFD) != -1
    }

    static func isSocket(_ fd: Int32) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Whether a pipe descriptor was opened for reading or for writing.
    static func accessMode(_ fd: Int32) -> Result<Pipe.Direction, IPCErrno> {
        retrying { fcntl(fd, F_GETFL) }.map { flags in
            switch flags & O_ACCMODE {
            case O_RDONLY: .receiving
            case O_WRONLY: .sending
            default: .duplex
            }
        }
    }

    static func duplicate(_ fd: Int32) -> Result<Int32, IPCErrno> {
        retrying { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    static func memfd(name: String, size: Int) -> Result<Int32, IPCErrno> {
        negated(triad_ipc_memfd_create(name, size))
    }

    static func shmCreate(name: String, size: Int) -> Result<Int32, IPCErrno> {
        negated(triad_ipc_shm_create(name, size))
    }

    static func shmOpen(name: String) -> Result<Int32, IPCErrno> {
        negated(triad_ipc_shm_open(name))
    }

    static func shmUnlink(name: String) -> Result<Void, IPCErrno> {
        let result = triad_ipc_shm_unlink(name)
        return result == 0 ? .success(()) : .failure(IPCErrno(result))
    }

    static func fileSize(_ fd: Int32) -> Result<Int, IPCErrno> {
        negated(triad_ipc_file_size(fd)).map { Int($0) }
    }

    static func map(_ fd: Int32, size: Int) -> Result<UnsafeMutableRawPointer, IPCErrno> {
        guard let address = triad_ipc_map(fd, size) else { return .failure(.current) }
        return .success(address)
    }

    static func unmap(_ address: UnsafeMutableRawPointer, size: Int) {
        _ = munmap(address, size)
    }

    /// The start time of a live process, or nil if it does not exist or is a zombie (dead, not yet reaped).
    static func liveProcessStart(_ pid: Int32) -> UInt64? {
        var start: UInt64 = 0
        var zombie: Int32 = 0
        guard triad_ipc_process_start(pid, &start, &zombie) == 0, zombie == 0 else { return nil }
        return start
    }

    /// Whether the process `pid` that started at `start` is still alive (a reused pid does not count).
    static func isAlive(pid: Int32, start: UInt64) -> Bool {
        liveProcessStart(pid) == start
    }

    /// This process's id and start time, which together name it uniquely on this machine.
    static let currentProcess: (pid: Int32, start: UInt64) = {
        let pid = getpid()
        return (pid, liveProcessStart(pid) ?? 0)
    }()
}
#endif
