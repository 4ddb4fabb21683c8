/// An error that the async loop raises on its own account, as opposed to an error thrown by user code.
///
/// The ``Code`` set is open, like `ExecutorError`'s: compare codes with `==` and keep a `default` branch.
///
/// ```swift
/// do {
///     try await loop.timeout(.seconds(1)) { try await fetch() }
/// } catch let error as AsyncLoopError where error.code == .timedOut {
///     print(error)   // "the operation timed out after 1.0 seconds; ..."
/// }
/// ```
public struct AsyncLoopError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"timedOut"`.
        public let rawValue: String

        /// Makes a code.
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// An operation ran past its deadline (``AsyncLoop/timeout(_:_:)``, ``AsyncLoop/waitFor(_:timeout:)``).
        public static let timedOut = Code("timedOut")
        /// The loop is shut down and runs nothing more.
        public static let shutDown = Code("shutDown")
        /// ``AsyncQueue/putNowait(_:)`` found the queue full.
        public static let queueFull = Code("queueFull")
        /// ``AsyncQueue/getNowait()`` found the queue empty.
        public static let queueEmpty = Code("queueEmpty")
        /// A ``AsyncBarrier`` was broken by a cancelled or reset party.
        public static let brokenBarrier = Code("brokenBarrier")
        /// A socket could not be opened, bound or connected.
        public static let connectionFailed = Code("connectionFailed")
        /// A subprocess could not be started.
        public static let processFailed = Code("processFailed")
        /// A file could not be read or written.
        public static let fileFailed = Code("fileFailed")
        /// A blocking closure could not run because the thread pool is shut down.
        public static let threadPoolUnavailable = Code("threadPoolUnavailable")

        /// The identifier, such as `timedOut`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// A sentence a person can act on: what happened and what to do about it.
    public var message: String
    /// The lower-level cause, such as an `IOError` from NIO, when there is one.
    public var underlying: (any Error)?

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: What happened and what to do, in a sentence.
    ///   - underlying: The cause, if any.
    public init(_ code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message followed by the cause.
    public var description: String {
        if let underlying { return "\(message) (cause: \(underlying))" }
        return message
    }

    /// Two errors are equal when their codes and messages are; the cause is not compared.
    public static func == (lhs: AsyncLoopError, rhs: AsyncLoopError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    /// Hashes the code and the message.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

extension AsyncLoopError {
    static func timedOut(after duration: Duration) -> AsyncLoopError {
        AsyncLoopError(
            .timedOut,
            message: "the operation timed out after \(duration) and was cancelled; raise the limit or speed it up"
        )
    }

    static let shutDownError = AsyncLoopError(
        .shutDown,
        message: "the loop is shut down; create a new AsyncLoop or use AsyncLoop.run"
    )
}
