#if os(Linux)
import Glibc
/// The number of an open file descriptor that Triad's IPC types use: a pipe end, a socket or a shared-memory
/// segment.
///
/// A descriptor is only meaningful inside one process, and the object that owns it closes it, so this type is
/// deliberately **not** `Sendable`: pass the owning ``Pipe`` or ``SharedMemory`` instead, and hand a descriptor to
/// another process only by inheritance (`posix_spawn` file actions) or over a duplex ``Pipe``
/// (``Pipe/send(descriptor:tag:timeout:)``).
///
/// An `IPCDescriptor` does not own the descriptor; it never closes it.
public struct IPCDescriptor: Hashable, CustomStringConvertible {
    /// The descriptor's number in this process.
    public let rawValue: Int32

    /// Wraps a descriptor number.
    public init(rawValue: Int32) {
        precondition(rawValue >= 0, "a file descriptor is never negative")
        self.rawValue = rawValue
    }

    /// The number, as it would appear in an argument or environment variable for a child process.
    public var description: String { String(rawValue) }

    /// Reads a descriptor number that a parent process put in an environment variable.
    ///
    /// - Parameter name: The variable's name.
    /// - Returns: The descriptor, checked to be open in this process.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the variable is missing, not a number, or names no open
    ///   descriptor.
    public static func inherited(fromEnvironment name: String) throws(IPCError) -> IPCDescriptor {
        guard let text = getenv(name).map({ String(cString: $0) }) else {
            throw IPCError(.invalidSegment, "the environment variable \(name) is not set; the parent must set it")
        }
        return try inherited(number: text)
    }

    /// Reads a descriptor number that a parent process passed as text, for example as an argument.
    ///
    /// - Throws: ``IPCError/Code/invalidSegment`` if the text is not a number or names no open descriptor.
    public static func inherited(number text: String) throws(IPCError) -> IPCDescriptor {
        guard let number = Int32(text), number >= 0 else {
            throw IPCError(.invalidSegment, "'\(text)' is not a file descriptor number")
        }
        guard Syscall.isOpen(number) else {
            throw IPCError(
                .invalidSegment,
                "descriptor \(number) is not open in this process; the parent must let the child inherit it"
            )
        }
        return IPCDescriptor(rawValue: number)
    }
}

@available(*, unavailable, message: "a descriptor number means nothing outside its process; pass its owner")
extension IPCDescriptor: Sendable {}
#endif
