#if os(Linux)
import CTriadShims
import Glibc
import SystemPackage

// Every raw system call of TriadProcesses goes through these thin wrappers: each retries on EINTR and returns
// `Result<_, Errno>`, so callers handle failures in one typed way.

extension Errno {
    /// The calling thread's `errno`.
    static var now: Errno { Errno(rawValue: Glibc.errno) }
    /// EAGAIN: nothing to read, or no room to write, right now.
    static let again = Errno.resourceTemporarilyUnavailable
}

enum Syscall {
    /// Runs `body` until it does not fail with EINTR, mapping -1 to the current errno.
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
        while true {
            let value = body()
            if value != -1 { return .success(value) }
            if errno != EINTR { return .failure(.now) }
        }
    }

    static func socketPair() -> Result<(Int32, Int32), Errno> {
        var fds: [Int32] = [-1, -1]
        let result = triad_socketpair(&fds)
        return result == 0 ? .success((fds[0], fds[1])) : .failure(Errno(rawValue: result))
    }

    static func pipe() -> Result<(read: Int32, write: Int32), Errno> {
        var fds: [Int32] = [-1, -1]
        let result = triad_pipe_cloexec(&fds)
        return result == 0 ? .success((fds[0], fds[1])) : .failure(Errno(rawValue: result))
    }

    static func eventFD() -> Result<Int32, Errno> {
        let fd = triad_eventfd()
        return fd >= 0 ? .success(fd) : .failure(.now)
    }

    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = retrying { Glibc.write(fd, &one, 8) }
    }

    static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        _ = retrying { Glibc.read(fd, &value, 8) }
    }

    static func close(_ fd: Int32) {
        // Never retry close on Linux: the descriptor is released even when close reports EINTR.
        _ = Glibc.close(fd)
    }

    static func setNonBlocking(_ fd: Int32) -> Result<Void, Errno> {
        retrying { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }.map { _ in () }
    }

    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    static func recvNonBlocking(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        let count = triad_recv_nonblocking(fd, buffer.baseAddress, buffer.count)
        return count >= 0 ? .success(count) : .failure(.now)
    }

    static func sendNonBlocking(_ fd: Int32, _ iov: UnsafePointer<iovec>, count: Int) -> Result<Int, Errno> {
        let sent = triad_send_nonblocking(fd, iov, Int32(count))
        return sent >= 0 ? .success(sent) : .failure(.now)
    }

    static func sendBlocking(_ fd: Int32, _ iov: UnsafePointer<iovec>, count: Int) -> Result<Int, Errno> {
        let sent = triad_send_blocking(fd, iov, Int32(count))
        return sent >= 0 ? .success(sent) : .failure(.now)
    }

    /// Waits for events on `fds`; `timeout` in milliseconds, -1 for none. Returns the number of ready descriptors.
    static func poll(_ fds: inout [pollfd], timeout: Int32) -> Result<Int32, Errno> {
        let count = fds.count
        return fds.withUnsafeMutableBufferPointer { buffer in
            let value = Glibc.poll(buffer.baseAddress, nfds_t(count), timeout)
            return value >= 0 ? .success(value) : .failure(.now)
        }
    }

    static func kill(_ pid: pid_t, _ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }

    /// The processors online, at least 1.
    static var cpuCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Whether `pid`, a child, has ended (or is gone), without reaping it.
    static func hasEnded(_ pid: pid_t) -> Bool {
        triad_child_has_ended(pid) != 0
    }

    /// Reaps `pid`, blocking until it ends.
    static func reap(_ pid: pid_t) -> Result<Int32, Errno> {
        var status: Int32 = 0
        return retrying { waitpid(pid, &status, 0) }.map { _ in status }
    }

    /// Monotonic time in nanoseconds.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// The resident set size of `pid` in bytes, from /proc; nil if it cannot be read.
    static func residentBytes(of pid: pid_t) -> Int? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { (try? read(fd, into: $0).get()) ?? 0 }
        guard count > 0 else { return nil }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

// The wrappers of shared memory, pipes and queues.
extension Syscall {
    /// Turns a `-errno`-or-value return of the C shim into a result.
    @inline(__always)
    static func negated<T: FixedWidthInteger & SignedInteger>(_ value: T) -> Result<T, Errno> {
        value < 0 ? .failure(Errno(rawValue: Int32(truncatingIfNeeded: 0 - value))) : .success(value)
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, isSocket: Bool) -> Result<Int, Errno> {
        negated(triad_ipc_write(fd, buffer.baseAddress, buffer.count, isSocket ? 1 : 0))
    }

    static func poll(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Result<Int16, Errno> {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return retrying { Glibc.poll(&entry, 1, timeoutMilliseconds) }.map { $0 == 0 ? 0 : entry.revents }
    }

    static func setCloseOnExec(_ fd: Int32) -> Result<Void, Errno> {
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
    static func accessMode(_ fd: Int32) -> Result<Pipe.Direction, Errno> {
        retrying { fcntl(fd, F_GETFL) }.map { flags in
            switch flags & O_ACCMODE {
            case O_RDONLY: .receiving
            case O_WRONLY: .sending
            default: .duplex
            }
        }
    }

    static func duplicate(_ fd: Int32) -> Result<Int32, Errno> {
        retrying { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    static func memfd(name: String, size: Int) -> Result<Int32, Errno> {
        negated(triad_ipc_memfd_create(name, size))
    }

    static func shmCreate(name: String, size: Int) -> Result<Int32, Errno> {
        negated(triad_ipc_shm_create(name, size))
    }

    static func shmOpen(name: String) -> Result<Int32, Errno> {
        negated(triad_ipc_shm_open(name))
    }

    static func shmUnlink(name: String) -> Result<Void, Errno> {
        let result = triad_ipc_shm_unlink(name)
        return result == 0 ? .success(()) : .failure(Errno(rawValue: result))
    }

    static func fileSize(_ fd: Int32) -> Result<Int, Errno> {
        negated(triad_ipc_file_size(fd)).map { Int($0) }
    }

    static func map(_ fd: Int32, size: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        guard let address = triad_ipc_map(fd, size) else { return .failure(.now) }
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
/// The signal the pool kills workers with, for the platform-free state machine.
let SIGKILL_VALUE: Int32 = SIGKILL
#endif
