#if os(Linux)
import CTriadShims
import Glibc

/// How a parent tells a child that it is a worker, and what a worker needs to know. The descriptors have fixed
/// numbers: the spawn helper moves them there.
package enum WorkerEnvironment {
    /// Present in a worker's environment; its value is the parent's pid.
    package static let parentPIDKey = "TRIAD_WORKER_PARENT_PID"
    /// The largest frame payload the worker accepts, in bytes.
    package static let maxFrameKey = "TRIAD_WORKER_MAX_FRAME"
    /// The descriptor of the socket to the parent.
    package static let channelFD: Int32 = 3
    /// The read end of the lifeline pipe: it reaches end of file when the parent dies.
    package static let lifelineFD: Int32 = 4
    /// A shared page where the worker marks the job it starts, so the parent knows which one a crash hit.
    package static let progressFD: Int32 = 5
    /// The shared page's size.
    static let progressPageSize = 4096

    /// The parent's pid, if this process was started as a worker.
    package static var parentPID: pid_t? {
        guard let value = getenv(parentPIDKey) else { return nil }
        return pid_t(String(cString: value))
    }

    /// The identity of the executable at `path`: a hash of its device, inode, size and modification time. Two
    /// processes with the same identity run the same binary.
    package static func identity(ofExecutableAt path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in [
            UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size), UInt64(info.st_mtim.tv_sec),
            UInt64(info.st_mtim.tv_nsec),
        ] {
            withUnsafeBytes(of: value.littleEndian) { bytes in
                for byte in bytes {
                    hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                }
            }
        }
        return hash
    }

    /// This process's own executable.
    package static let currentExecutable = "/proc/self/exe"
}
#endif
