/// The state machine of a queue, shared by Threads' `BlockingQueue` and Async's `AsyncQueue`: the items in their
/// ``QueueOrder``, the bound, the count of unfinished tasks (Python's `task_done` and `join`) and whether the queue
/// is closed. It holds no waiters: each model keeps its own (a monitor's waiting threads, suspended tasks) and asks
/// this state what to do.
@usableFromInline
package struct QueueState<Element> {
    /// The outcome of a put.
    @usableFromInline
    package enum Put: Equatable {
        /// The item was added.
        case done
        /// The queue is closed; the item was not added.
        case closed
    }

    /// The outcome of a get.
    @usableFromInline
    package enum Get {
        /// The next item.
        case item(Element)
        /// The queue is closed and empty.
        case closed
    }

    @usableFromInline var buffer: QueueBuffer<Element>
    /// The most items held at once; `nil` for no bound.
    @usableFromInline package let maxSize: Int?
    /// Items put but not yet marked done.
    @usableFromInline package internal(set) var unfinished = 0
    /// Whether ``close()`` was called.
    @usableFromInline package private(set) var isClosed = false

    /// Makes an empty queue. A `maxSize` below 1 means no bound, as in Python.
    @inlinable
    package init(order: QueueOrder<Element>, maxSize: Int?) {
        buffer = QueueBuffer(order)
        self.maxSize = maxSize.flatMap { $0 >= 1 ? $0 : nil }
    }

    /// The number of items queued.
    @inlinable
    package var count: Int { buffer.count }

    /// Whether the queue holds ``maxSize`` items; never without a bound.
    @inlinable
    package var isFull: Bool {
        guard let maxSize else { return false }
        return buffer.count >= maxSize
    }

    /// Adds `element` unless the queue is full (`nil`: the caller waits) or closed.
    @inlinable
    package mutating func put(_ element: Element) -> Put? {
        if isClosed { return .closed }
        if isFull { return nil }
        buffer.push(element)
        unfinished += 1
        return .done
    }

    /// Counts an item that went straight to a waiting getter without entering the buffer, as unfinished.
    @inlinable
    package mutating func handedOff() {
        unfinished += 1
    }

    /// Takes the next item; `nil` when empty (the caller waits), `.closed` when empty and closed.
    @inlinable
    package mutating func get() -> Get? {
        guard let element = buffer.pop() else { return isClosed ? .closed : nil }
        return .item(element)
    }

    /// Marks one task done. Returns `false`, changing nothing, if more tasks were marked done than items were put.
    @inlinable
    package mutating func taskDone() -> Bool {
        guard unfinished > 0 else { return false }
        unfinished -= 1
        return true
    }

    /// Closes the queue: puts fail from now on, and gets fail once it is empty.
    package mutating func close() {
        isClosed = true
    }
}
