/// An error raised by a TriadThreads primitive: a timeout, a full or empty queue, a broken barrier, a lock released
/// by a thread that does not own it.
///
/// The ``Code`` set is open to growth, so compare codes with `==` and keep a `default` branch when switching.
///
/// ```swift
/// do {
///     try queue.get(timeout: .milliseconds(100))
/// } catch where error.code == .timedOut {
///     print(error)   // "timed out after 0.1 seconds waiting for an item of the queue; ..."
/// }
/// ```
public struct ThreadingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"timedOut"`.
        public let rawValue: String

        /// Makes a code.
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// A wait with a timeout ran out of time before its condition held.
        public static let timedOut = Code("timedOut")
        /// A queue at its maximum size refused an item without waiting.
        public static let full = Code("full")
        /// An empty queue had no item to give without waiting.
        public static let empty = Code("empty")
        /// The queue is closed: it takes no more items, and has none left to give.
        public static let closed = Code("closed")
        /// The barrier is broken by ``Barrier/abort()``, by a timeout, by a failing action or by a reset while
        /// parties were waiting. Every waiter and every later arrival gets this until ``Barrier/reset()``.
        public static let brokenBarrier = Code("brokenBarrier")
        /// A ``BoundedSemaphore`` was released more often than it was acquired. Not thrown by this version: misuse of
        /// a lock or semaphore is a precondition failure. Kept so that code that names it still compiles.
        public static let overReleased = Code("overReleased")
        /// A thread released an ``RLock`` that it does not hold, or waited or notified on a ``Condition`` whose
        /// lock it does not hold. Not thrown by this version: that misuse is a precondition failure. Kept so that
        /// code that names it still compiles.
        public static let notOwner = Code("notOwner")
        /// A ``Lock`` that nobody holds was released. Not thrown by this version: that misuse is a precondition
        /// failure. Kept so that code that names it still compiles.
        public static let notLocked = Code("notLocked")
        /// The task that was suspended in an async wait was cancelled.
        public static let cancelled = Code("cancelled")
        /// The operating system refused to start a thread (for example for lack of memory or a thread limit).
        public static let threadStartFailed = Code("threadStartFailed")

        /// The identifier, such as `timedOut`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// A sentence a person can act on: what happened and what to do about it.
    public var message: String

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: What happened and what to do, in a sentence.
    public init(_ code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension ThreadingError {
    static func timedOut(after timeout: Duration?, waitingFor what: String) -> ThreadingError {
        let span = timeout.map { " after \($0)" } ?? ""
        return ThreadingError(
            .timedOut,
            message: "timed out\(span) waiting for \(what); wait longer, or check that another thread makes progress"
        )
    }

    static func cancelled(waitingFor what: String) -> ThreadingError {
        ThreadingError(.cancelled, message: "the task was cancelled while it waited for \(what)")
    }
}
