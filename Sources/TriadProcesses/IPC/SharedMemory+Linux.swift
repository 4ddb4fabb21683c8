#if os(Linux)
import Glibc
import Synchronization
import SystemPackage

/// A segment of memory that several processes map at once: what one writes, the others read, with no copy.
///
/// There are two kinds:
/// - **Anonymous** segments (``anonymous(count:)``, a Linux `memfd`) have no name. Another process gets one only
///   through its descriptor: by inheritance when it is spawned, or over a duplex ``Pipe``
///   (``Pipe/send(descriptor:tag:timeout:)``). The memory is freed when the last process closes it, however they
///   end, so an anonymous segment can never leak.
/// - **Named** segments (``named(count:)``, POSIX `shm_open`, permissions 0600) appear in `/dev/shm` and any
///   process of the same user can ``open(name:)`` them. The creating process owns the name: it is unlinked when the
///   owner calls ``release()`` or the owner object is deinitialized. A name's text records its owner's pid and start
///   time, and ``removeAbandoned()`` (which ``named(count:)`` also runs) unlinks every Triad segment whose owner has
///   died, so a crashed owner's segments are removed too.
///
/// A segment's memory starts zeroed. Access to it is not synchronized: agree on a protocol, such as a
/// ``ProcessQueue`` or a ``Pipe`` message that says "written".
///
/// `SharedMemory` is deliberately **not** `Sendable`: its ``baseAddress`` is a raw pointer that any process and
/// thread may write through, and its descriptor is meaningful only in this process.
public final class SharedMemory {
    /// The segment's size in bytes.
    public let count: Int
    /// The name under which ``open(name:)`` finds the segment, or `nil` for an anonymous segment.
    public let name: String?
    /// Whether this object owns the segment's name and unlinks it on release. Always `false` for anonymous
    /// segments and for segments opened by name.
    public let isOwner: Bool
    /// The start of the mapping in this process. Valid until ``release()``.
    public let baseAddress: UnsafeMutableRawPointer
    private let fd: Int32
    private var released = false

    /// The prefix of every name Triad gives a named segment; ``removeAbandoned()`` considers only these.
    public static let namePrefix = "triad."

    private static let counter = Atomic<UInt64>(0)

    /// Maps `fd`, which the new object owns; on failure the descriptor closes with its owner.
    private init(fd: consuming OwnedDescriptor, count: Int, name: String?, isOwner: Bool) throws(IPCError) {
        let address: UnsafeMutableRawPointer
        switch Syscall.map(fd.raw, size: count) {
        case .success(let mapped):
            address = mapped
        case .failure(let error):
            if isOwner, let name { _ = Syscall.shmUnlink(name: name) }
            throw IPCError("mmap of a \(count)-byte shared segment", error, "check the memory limits")
        }
        self.fd = fd.release()
        self.count = count
        self.name = name
        self.isOwner = isOwner
        self.baseAddress = address
    }

    deinit {
        release()
    }

    /// Creates an anonymous segment (a `memfd`), zeroed.
    ///
    /// - Parameter count: The size in bytes; more than zero.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the memory.
    public static func anonymous(count: Int) throws(IPCError) -> SharedMemory {
        precondition(count > 0, "a shared segment needs at least one byte")
        switch Syscall.memfd(name: "triad", size: count) {
        case .success(let fd):
            return try SharedMemory(fd: OwnedDescriptor(fd), count: count, name: nil, isOwner: false)
        case .failure(let error):
            throw IPCError("memfd_create of \(count) bytes", error)
        }
    }

    /// Creates a named segment in `/dev/shm` with permissions 0600, owned by this object, zeroed.
    ///
    /// It first runs ``removeAbandoned()``, so segments left by crashed owners do not pile up.
    ///
    /// - Parameter count: The size in bytes; more than zero.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the segment.
    public static func named(count: Int) throws(IPCError) -> SharedMemory {
        precondition(count > 0, "a shared segment needs at least one byte")
        _ = removeAbandoned()
        let me = Syscall.currentProcess
        let serial = counter.add(1, ordering: .relaxed).newValue
        let name = "/\(namePrefix)\(me.pid).\(me.start).\(serial).\(UInt32.random(in: 0...UInt32.max))"
        switch Syscall.shmCreate(name: name, size: count) {
        case .success(let fd):
            return try SharedMemory(fd: OwnedDescriptor(fd), count: count, name: name, isOwner: true)
        case .failure(let error):
            throw IPCError("shm_open of \(name) (\(count) bytes)", error, "is /dev/shm mounted and writable?")
        }
    }

    /// Opens a named segment that another process created. This object does not own the name.
    ///
    /// - Parameter name: The segment's ``name``, as the creator reported it.
    /// - Throws: ``IPCError/Code/notFound`` if no segment has that name (perhaps its owner released it), or
    ///   ``IPCError/Code/systemCallFailed``.
    public static func open(name: String) throws(IPCError) -> SharedMemory {
        let fd: Int32
        switch Syscall.shmOpen(name: name) {
        case .success(let opened):
            fd = opened
        case .failure(let error) where error.rawValue == ENOENT:
            throw IPCError(.notFound, "no shared segment is named \(name); its owner may have released it")
        case .failure(let error):
            throw IPCError("shm_open of \(name)", error)
        }
        return try adopt(fd: OwnedDescriptor(fd), name: name, what: "the segment \(name)")
    }

    /// Maps a segment whose descriptor this process received, by inheritance or over a ``Pipe``, and takes
    /// ownership of the descriptor: this object closes it.
    ///
    /// - Parameter descriptor: An open descriptor of a `memfd` or shared-memory object.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the descriptor is empty or not a file that can be mapped.
    public convenience init(adopting descriptor: IPCDescriptor) throws(IPCError) {
        let owned = OwnedDescriptor(descriptor.rawValue)
        let fd = owned.raw
        _ = Syscall.setCloseOnExec(fd)
        let size: Int
        switch Syscall.fileSize(fd) {
        case .success(let value) where value > 0:
            size = value
        case .success:
            throw IPCError(.invalidSegment, "descriptor \(fd) holds an empty file, not a shared segment")
        case .failure(let error):
            throw IPCError("fstat of descriptor \(fd)", error)
        }
        try self.init(fd: owned, count: size, name: nil, isOwner: false)
    }

    private static func adopt(fd: consuming OwnedDescriptor, name: String, what: String) throws(IPCError) -> SharedMemory {
        switch Syscall.fileSize(fd.raw) {
        case .success(let size) where size > 0:
            return try SharedMemory(fd: fd, count: size, name: name, isOwner: false)
        case .success:
            throw IPCError(.invalidSegment, "\(what) is empty; its creator has not sized it yet")
        case .failure(let error):
            throw IPCError("fstat of \(what)", error)
        }
    }

    /// The segment's descriptor in this process, for handing the segment to a child process (by `posix_spawn`
    /// file actions) or over a duplex ``Pipe``. Valid until ``release()``; this object still owns it.
    public var descriptor: IPCDescriptor {
        precondition(!released, "the shared segment was released")
        return IPCDescriptor(rawValue: fd)
    }

    /// Whether ``release()`` has been called.
    public var isReleased: Bool { released }

    /// Calls `body` with the whole segment as bytes.
    ///
    /// - Parameter body: Reads or writes the bytes; the buffer is valid only during the call.
    /// - Throws: Whatever `body` throws.
    public func withUnsafeMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!released, "the shared segment was released")
        return try body(UnsafeMutableRawBufferPointer(start: baseAddress, count: count))
    }

    /// Unmaps the segment, closes its descriptor and, for the owner of a named segment, unlinks the name (other
    /// processes that have it mapped keep their mapping). Calling it again does nothing.
    public func release() {
        guard !released else { return }
        released = true
        Syscall.unmap(baseAddress, size: count)
        Syscall.close(fd)
        if isOwner, let name { _ = Syscall.shmUnlink(name: name) }
    }

    /// Unlinks every Triad segment in `/dev/shm` whose owner process has died (or whose pid now belongs to
    /// another process). Segments of live owners are left alone; processes that still map a removed segment keep
    /// their mapping.
    ///
    /// - Returns: The names removed. An empty array is not an error.
    @discardableResult
    public static func removeAbandoned() -> [String] {
        var removed: [String] = []
        for entry in listTriadSegments() {
            guard let owner = owner(ofSegment: entry) else { continue }
            if !Syscall.isAlive(pid: owner.pid, start: owner.start),
                case .success = Syscall.shmUnlink(name: "/" + entry)
            {
                removed.append("/" + entry)
            }
        }
        return removed
    }

    /// The owner process that a Triad segment's name records, or nil if the name is not in Triad's format.
    static func owner(ofSegment entry: String) -> (pid: Int32, start: UInt64)? {
        let plain = entry.hasPrefix("/") ? String(entry.dropFirst()) : entry
        guard plain.hasPrefix(namePrefix) else { return nil }
        let fields = plain.dropFirst(namePrefix.count).split(separator: ".")
        guard fields.count >= 2, let pid = Int32(fields[0]), let start = UInt64(fields[1]) else { return nil }
        return (pid, start)
    }

    /// The names of Triad's segments in `/dev/shm`, without the leading slash.
    package static func listTriadSegments() -> [String] {
        guard let directory = opendir("/dev/shm") else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(namePrefix) { names.append(name) }
        }
        return names
    }
}
#endif
