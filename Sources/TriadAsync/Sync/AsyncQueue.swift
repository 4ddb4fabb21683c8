import NIOCore
import Synchronization
import TriadCore

/// A queue between tasks: the analogue of `asyncio.Queue`, `LifoQueue` and `PriorityQueue` in one type.
///
/// ``put(_:)`` suspends while the queue is full and ``get()`` while it is empty; neither blocks a thread, and
/// waiters are served in arrival order (an item goes straight to the longest-waiting getter). ``taskDone()`` and
/// ``join()`` track unfinished work as in asyncio. Cancelling a waiting `get` or `put` removes it from the queue;
/// no item is lost or duplicated.
///
/// ```swift
/// let queue = AsyncQueue<URL>(maxSize: 100)
/// loop.createTask { for url in urls { try await queue.put(url) } }
/// let next = try await queue.get()
/// ```
public final class AsyncQueue<Element: Sendable>: Sendable {
    /// The order in which a queue hands out its items: `.fifo` (`asyncio.Queue`), `.lifo` (`asyncio.LifoQueue`),
    /// or `.priority(by:)` (`asyncio.PriorityQueue`), the same type as `BlockingQueue`'s. In priority order, items
    /// that compare equal come out in the order they were put.
    public typealias Order = QueueOrder<Element>

    // Internal but usable from inlinable code: put and get are specialized in the caller, which a benchmark
    // showed to save the generic-metadata lookups that otherwise cost a third of a queue round trip.
    @usableFromInline let state: Mutex<AsyncQueueState<Element>>
    /// The most items the queue holds; 0 means no limit.
    public let maxSize: Int

    /// Makes a queue.
    ///
    /// - Parameters:
    ///   - maxSize: The most items it holds before `put` suspends; 0 (the default) means no limit.
    ///   - order: FIFO (the default), LIFO or priority.
    public init(maxSize: Int = 0, order: Order = .fifo) {
        precondition(maxSize >= 0, "a queue's maxSize must not be negative")
        self.maxSize = maxSize
        self.state = Mutex(AsyncQueueState(order: order, maxSize: maxSize))
    }

    /// The number of items in the queue.
    public var count: Int { state.withLock { $0.items.count } }
    /// Whether the queue holds no items.
    public var isEmpty: Bool { count == 0 }
    /// Whether the queue holds `maxSize` items (never, without a limit).
    public var isFull: Bool { state.withLock { $0.isFull } }

    /// The number of `get` calls suspended on an empty queue: a test hook.
    package var waitingGetters: Int { state.withLock { $0.getters.count } }
    /// The number of `put` calls suspended on a full queue: a test hook.
    package var waitingPutters: Int { state.withLock { $0.putters.count } }

    /// Adds an item, suspending while the queue is full.
    ///
    /// - Parameter item: The item.
    /// - Throws: `CancellationError` if the caller is cancelled while waiting; the item is then not added.
    @inlinable
    public func put(_ item: Element) async throws {
        let id: UInt64
        switch state.withLock({ $0.put(item) }) {
        case .done: return
        case .handOff(let getter):
            getter.continuation.resume(returning: item)
            return
        case .mustWait(let waiterID): id = waiterID
        }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                // Decide again under the lock: a getter may have made room since the first look.
                let outcome = state.withLock { state -> AsyncQueueState<Element>.PutOutcome? in
                    if Task.isCancelled { return nil }
                    let outcome = state.put(item)
                    if case .mustWait = outcome {
                        state.putters.append(Putter(id: id, item: item, continuation: continuation))
                    }
                    return outcome
                }
                switch outcome {
                case nil: continuation.resume(throwing: CancellationError())
                case .done: continuation.resume()
                case .handOff(let getter):
                    getter.continuation.resume(returning: item)
                    continuation.resume()
                case .mustWait: break
                }
            }
        } onCancel: {
            let putter = state.withLock { state -> Putter<Element>? in
                guard let index = state.putters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.putters.remove(at: index)
            }
            putter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Adds an item without waiting.
    ///
    /// - Parameter item: The item.
    /// - Throws: ``AsyncLoopError/Code/queueFull`` if the queue is full.
    @inlinable
    public func putNowait(_ item: Element) throws(AsyncLoopError) {
        let outcome = state.withLock { state -> AsyncQueueState<Element>.PutOutcome? in
            if state.isFull && state.getters.isEmpty { return nil }
            return state.put(item)
        }
        switch outcome {
        case nil:
            throw AsyncLoopError(.queueFull, message: "the queue is full (maxSize \(maxSize)); use put to wait")
        case .handOff(let getter): getter.continuation.resume(returning: item)
        case .done, .mustWait: break
        }
    }

    /// Removes and returns the next item, suspending while the queue is empty.
    ///
    /// - Returns: The next item in the queue's order.
    /// - Throws: `CancellationError` if the caller is cancelled while waiting; no item is taken then.
    @inlinable
    public func get() async throws -> Element {
        let id: UInt64
        switch state.withLock({ $0.get() }) {
        case .item(let item, let putter):
            putter?.continuation.resume()
            return item
        case .mustWait(let waiterID): id = waiterID
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Element, any Error>) in
                // Decide again under the lock: a putter may have added an item since the first look.
                let outcome = state.withLock { state -> AsyncQueueState<Element>.GetOutcome? in
                    if Task.isCancelled { return nil }
                    let outcome = state.get()
                    if case .mustWait = outcome { state.getters.append(Getter(id: id, continuation: continuation)) }
                    return outcome
                }
                switch outcome {
                case nil: continuation.resume(throwing: CancellationError())
                case .item(let item, let putter):
                    putter?.continuation.resume()
                    continuation.resume(returning: item)
                case .mustWait: break
                }
            }
        } onCancel: {
            let getter = state.withLock { state -> Getter<Element>? in
                guard let index = state.getters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.getters.remove(at: index)
            }
            getter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Removes and returns the next item without waiting.
    ///
    /// - Returns: The next item.
    /// - Throws: ``AsyncLoopError/Code/queueEmpty`` if the queue is empty.
    @inlinable
    public func getNowait() throws(AsyncLoopError) -> Element {
        let outcome = state.withLock { state -> AsyncQueueState<Element>.GetOutcome? in
            state.items.count == 0 ? nil : state.get()
        }
        guard case .item(let item, let putter) = outcome else {
            throw AsyncLoopError(.queueEmpty, message: "the queue is empty; use get to wait for an item")
        }
        putter?.continuation.resume()
        return item
    }

    /// Marks one item taken by ``get()`` as processed, for ``join()``. Calling it more often than items were put
    /// is a programmer error and stops the program, as asyncio raises `ValueError`.
    public func taskDone() {
        let joiners = state.withLock { state -> [UnsafeContinuation<Void, Never>] in
            let counted = state.items.taskDone()
            precondition(counted, "AsyncQueue.taskDone() called more times than there were items")
            guard state.items.unfinished == 0 else { return [] }
            defer { state.joiners = [] }
            return state.joiners
        }
        for joiner in joiners { joiner.resume() }
    }

    /// Waits until every item put has been marked done with ``taskDone()``.
    public func join() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.items.unfinished == 0 { return true }
                state.joiners.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

extension AsyncQueue where Element: Comparable {
    /// Makes a priority queue that hands out the smallest item first (`asyncio.PriorityQueue`).
    ///
    /// - Parameter maxSize: The most items it holds; 0 means no limit.
    /// - Returns: The queue.
    public static func priority(maxSize: Int = 0) -> AsyncQueue {
        AsyncQueue(maxSize: maxSize, order: .priority(by: { $0 < $1 }))
    }
}
