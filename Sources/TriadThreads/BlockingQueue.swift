import TriadCore

/// A thread-safe queue, like Python's `queue.Queue`, `LifoQueue` and `PriorityQueue` in one type, with an optional
/// bound, timeouts, task tracking and closing.
///
/// ```swift
/// let jobs = BlockingQueue<Int>(maxSize: 100)                   // FIFO; .lifo and .priority also exist
/// let consumer = Thread {
///     while let item = try? jobs.get() { handle(item); jobs.taskDone() }  // ends when closed and drained
/// }
/// try consumer.start()
/// try jobs.put(1)                    // blocks while full; from async code: try await jobs.put(1)
/// jobs.join()                        // until every item was marked done
/// jobs.close()
/// ```
///
/// Each blocking call blocks an OS thread; its async variant of the same name, called with `await`, suspends the task
/// instead. Both kinds may be mixed on one queue.
///
/// ## Closing
/// ``close()`` stops new items: `put(_:)` throws ``ThreadingError/Code/closed``. Items already queued can still be
/// taken; once none are left, `get()` throws ``ThreadingError/Code/closed`` too, which ends consumer loops.
public final class BlockingQueue<Element: Sendable>: Sendable {
    /// The order in which items leave the queue: `.fifo`, `.lifo`, or `.priority(by:)` (`.priority` for
    /// `Comparable` items), the same type as `AsyncQueue`'s. In priority order, items that compare equal leave in the
    /// order they came.
    public typealias Order = QueueOrder<Element>

    private let storage: Guarded<QueueState<Element>>

    /// The most items the queue holds at once; `nil` for no bound.
    public let maxSize: Int?

    /// Makes an empty queue.
    ///
    /// - Parameters:
    ///   - order: FIFO (the default), LIFO or priority.
    ///   - maxSize: The most items held at once, after which `put(_:)` waits; `nil` (or a value below 1, as in
    ///     Python) for no bound.
    public init(order: Order = .fifo, maxSize: Int? = nil) {
        let state = QueueState(order: order, maxSize: maxSize)
        self.maxSize = state.maxSize
        storage = Guarded(state)
    }

    /// The number of items queued now. The answer may be stale as soon as it returns.
    public var count: Int { storage.withLock { $0.count } }
    /// Whether the queue holds no item now.
    public var isEmpty: Bool { count == 0 }
    /// Whether the queue holds ``maxSize`` items now; never for an unbounded queue.
    public var isFull: Bool { storage.withLock { $0.isFull } }
    /// Whether ``close()`` was called.
    public var isClosed: Bool { storage.withLock { $0.isClosed } }
    /// Items put but not yet marked done with ``taskDone()``.
    public var unfinishedTasks: Int { storage.withLock { $0.unfinished } }

    // MARK: - Put

    /// Adds an item, blocking the calling OS thread while the queue is full.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `put(_:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/closed`` if the queue is closed, also while waiting.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func put(_ element: Element) throws(ThreadingError) {
        try putResult(storage.wait(until: nil, wakesOthers: true) { $0.put(element) }, timeout: nil)
    }

    /// Adds an item, blocking the calling OS thread while the queue is full, at most for `timeout`.
    ///
    /// This blocks an OS thread; the async variant is `put(_:timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if the queue stayed full (the item is not
    ///   added), or ``ThreadingError/Code/closed``.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func put(_ element: Element, timeout: Duration) throws(ThreadingError) {
        try putResult(storage.wait(until: .after(timeout), wakesOthers: true) { $0.put(element) }, timeout: timeout)
    }

    /// Adds an item if there is room, without waiting (Python's `put_nowait`).
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/full`` if the queue is full, or
    ///   ``ThreadingError/Code/closed``.
    public func putNowait(_ element: Element) throws(ThreadingError) {
        let result = storage.change { $0.put(element) }
        guard let result else {
            throw ThreadingError(.full, message: "the queue is full (\(maxSize ?? 0) items); take items out or wait")
        }
        try putResult(result, timeout: nil)
    }

    /// Adds an item, suspending the calling task while the queue is full. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/closed`` or ``ThreadingError/Code/cancelled``.
    public func put(_ element: Element) async throws(ThreadingError) {
        try putOutcome(await storage.waitAsync(until: nil, wakesOthers: true) { $0.put(element) }, timeout: nil)
    }

    /// Adds an item, suspending the calling task while the queue is full, at most for `timeout`. Never blocks a
    /// thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut``, ``ThreadingError/Code/closed`` or
    ///   ``ThreadingError/Code/cancelled``.
    public func put(_ element: Element, timeout: Duration) async throws(ThreadingError) {
        try putOutcome(
            await storage.waitAsync(until: .after(timeout), wakesOthers: true) { $0.put(element) },
            timeout: timeout
        )
    }

    // MARK: - Get

    /// Takes the next item, blocking the calling OS thread while the queue is empty.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `get()` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/closed`` once the queue is closed and empty.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func get() throws(ThreadingError) -> Element {
        try getResult(storage.wait(until: nil, wakesOthers: true) { $0.get() }, timeout: nil)
    }

    /// Takes the next item, blocking the calling OS thread while the queue is empty, at most for `timeout`.
    ///
    /// This blocks an OS thread; the async variant is `get(timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if no item came, or
    ///   ``ThreadingError/Code/closed``.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func get(timeout: Duration) throws(ThreadingError) -> Element {
        try getResult(storage.wait(until: .after(timeout), wakesOthers: true) { $0.get() }, timeout: timeout)
    }

    /// Takes the next item if there is one, without waiting (Python's `get_nowait`).
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/empty`` if the queue is empty, or
    ///   ``ThreadingError/Code/closed`` if it is also closed.
    public func getNowait() throws(ThreadingError) -> Element {
        let result = storage.change { $0.get() }
        guard let result else {
            throw ThreadingError(.empty, message: "the queue is empty; put items in first, or wait with get()")
        }
        return try getResult(result, timeout: nil)
    }

    /// Takes the next item, suspending the calling task while the queue is empty. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/closed`` or ``ThreadingError/Code/cancelled``.
    public func get() async throws(ThreadingError) -> Element {
        try getOutcome(await storage.waitAsync(until: nil, wakesOthers: true) { $0.get() }, timeout: nil)
    }

    /// Takes the next item, suspending the calling task while the queue is empty, at most for `timeout`. Never
    /// blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut``, ``ThreadingError/Code/closed`` or
    ///   ``ThreadingError/Code/cancelled``.
    public func get(timeout: Duration) async throws(ThreadingError) -> Element {
        try getOutcome(
            await storage.waitAsync(until: .after(timeout), wakesOthers: true) { $0.get() },
            timeout: timeout
        )
    }

    // MARK: - Tasks and closing

    /// Marks one item taken with `get` as processed, for `join()`.
    ///
    /// - Precondition: There is an unfinished task: calling it more often than items were put is a bug.
    public func taskDone() {
        let ok = storage.change { $0.taskDone() }
        precondition(ok, "taskDone() was called more times than items were put in the queue")
    }

    /// Blocks the calling OS thread until every item put so far has been marked done with ``taskDone()``.
    ///
    /// This blocks an OS thread; the async variant is `join()` with `await`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func join() {
        _ = storage.wait(until: nil, wakesOthers: false) { $0.unfinished == 0 ? () : nil }
    }

    /// Blocks the calling OS thread until every item has been marked done, at most for `timeout`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if tasks were still unfinished.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func join(timeout: Duration) throws(ThreadingError) {
        guard storage.wait(until: .after(timeout), wakesOthers: false, { $0.unfinished == 0 ? () : nil }) != nil else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "the queue's tasks to be marked done")
        }
    }

    /// Suspends the calling task until every item has been marked done. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the task is cancelled first.
    public func join() async throws(ThreadingError) {
        switch await storage.waitAsync(until: nil, wakesOthers: false, { $0.unfinished == 0 ? () : nil }) {
        case .value, .timedOut: return
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "the queue's tasks to be marked done")
        }
    }

    /// Closes the queue: later puts throw ``ThreadingError/Code/closed``, waiting puts wake and throw it, and gets
    /// throw it once the remaining items are taken. Closing twice is not an error.
    public func close() {
        storage.change { $0.close() }
    }

    // MARK: - Outcomes

    private func putResult(_ result: QueueState<Element>.Put?, timeout: Duration?) throws(ThreadingError) {
        switch result {
        case .done: return
        case .closed: throw Self.closedError
        case nil: throw ThreadingError.timedOut(after: timeout, waitingFor: "room in a full queue")
        }
    }

    private func putOutcome(
        _ outcome: Guarded<QueueState<Element>>.Outcome<QueueState<Element>.Put>,
        timeout: Duration?
    ) throws(ThreadingError) {
        switch outcome {
        case .value(let result): try putResult(result, timeout: timeout)
        case .timedOut: try putResult(nil, timeout: timeout)
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "room in a full queue")
        }
    }

    private func getResult(_ result: QueueState<Element>.Get?, timeout: Duration?) throws(ThreadingError) -> Element {
        switch result {
        case .item(let element): return element
        case .closed: throw Self.closedError
        case nil: throw ThreadingError.timedOut(after: timeout, waitingFor: "an item from an empty queue")
        }
    }

    private func getOutcome(
        _ outcome: Guarded<QueueState<Element>>.Outcome<QueueState<Element>.Get>,
        timeout: Duration?
    ) throws(ThreadingError) -> Element {
        switch outcome {
        case .value(let result): return try getResult(result, timeout: timeout)
        case .timedOut: return try getResult(nil, timeout: timeout)
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "an item from an empty queue")
        }
    }

    private static var closedError: ThreadingError {
        ThreadingError(.closed, message: "the queue is closed; it takes no new items and has none left to give")
    }
}
