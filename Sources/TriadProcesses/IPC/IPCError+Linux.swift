import SystemPackage

/// An error from Triad's communication between processes: ``Pipe``, ``ProcessQueue``, ``SharedMemory`` and
/// ``SharedArray``.
///
/// The ``Code`` set is open, so compare codes with `==` and keep a `default` branch:
///
/// ```swift
/// do {
///     let value = try pipe.receive(Int.self, timeout: .seconds(1))
/// } catch where error.code == .timedOut {
///     // nothing arrived in time; the pipe is still usable
/// } catch where error.code == .endOfStream {
///     // the other end was closed, or its process exited
/// }
/// ```
public struct IPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"timedOut"`.
        public let rawValue: String

        /// Makes a code.
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The other end of a pipe was closed, or its process exited, and every value it sent has been read.
        public static let endOfStream = Code("endOfStream")
        /// Writing failed because the other end of the pipe was closed, or its process exited.
        public static let peerClosed = Code("peerClosed")
        /// The operation did not complete within its timeout. Nothing was consumed; retrying is safe.
        public static let timedOut = Code("timedOut")
        /// A non-blocking `put` found the queue at its maximum size.
        public static let full = Code("full")
        /// A non-blocking `get` found no value waiting.
        public static let empty = Code("empty")
        /// The queue or pipe end is closed: nothing more can be put, or every value has been taken.
        public static let closed = Code("closed")
        /// A value is larger than the queue's slot size or the pipe's frame limit.
        public static let tooLarge = Code("tooLarge")
        /// The bytes received are not a valid encoding of the type asked for; the value was consumed.
        public static let decodingFailed = Code("decodingFailed")
        /// The value's `Encodable` conformance threw; nothing was sent.
        public static let encodingFailed = Code("encodingFailed")
        /// The stream holds bytes that are not Triad frames, or frames of another protocol version.
        public static let corruptStream = Code("corruptStream")
        /// A frame of another kind arrived than the one asked for (for example raw bytes when a value was
        /// expected, or no descriptor where one was expected). The frame was consumed.
        public static let unexpectedMessage = Code("unexpectedMessage")
        /// The consumer that held a delivery died before acknowledging it; the value went back to the queue.
        public static let consumerDied = Code("consumerDied")
        /// A shared segment or descriptor is not what it should be: wrong size, wrong element type, not a queue.
        public static let invalidSegment = Code("invalidSegment")
        /// No shared-memory segment has that name.
        public static let notFound = Code("notFound")
        /// A system call failed; ``IPCError/errno`` holds its error number.
        public static let systemCallFailed = Code("systemCallFailed")
        /// The waiting task was cancelled. Nothing was consumed.
        public static let cancelled = Code("cancelled")

        /// The identifier, such as `timedOut`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// What happened and what to do about it.
    public let message: String
    /// The system's error, when a system call failed.
    public let errno: Errno?

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: What happened and what to do, in a sentence.
    ///   - errno: The system's error, if a system call failed.
    public init(_ code: Code, _ message: String, errno: Errno? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// Two errors are equal when their codes and system errors are. The message is not compared: it is for
    /// people, and names details (a path, a size, a process id) that differ between two occurrences of the same
    /// error.
    public static func == (lhs: IPCError, rhs: IPCError) -> Bool {
        lhs.code == rhs.code && lhs.errno == rhs.errno
    }

    /// Hashes the code and the system error.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(errno)
    }

    /// The code, the message and the error number.
    public var description: String {
        var text = "\(code): \(message)"
        if let errno { text += " (errno \(errno.rawValue): \(errno))" }
        return text
    }
}

#if os(Linux)
import Glibc

extension IPCError {
    /// An error for a failed system call.
    init(_ call: String, _ errno: Errno, _ advice: String = "") {
        let message = advice.isEmpty ? "\(call) failed" : "\(call) failed; \(advice)"
        self.init(.systemCallFailed, message, errno: errno)
    }
}
#endif
