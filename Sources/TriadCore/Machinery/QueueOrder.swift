/// The order in which a queue hands out its items: first in first out, last in first out, or by priority.
///
/// Threads' `BlockingQueue` and Async's `AsyncQueue` share this one type, as their `Order`, after Python's
/// `queue.Queue`, `LifoQueue` and `PriorityQueue` (and asyncio's queues of the same names).
///
/// In priority order, items that compare equal leave in the order they were put: a priority queue is stable.
public struct QueueOrder<Element>: Sendable {
    @usableFromInline
    enum Kind: Sendable {
        case fifo
        case lifo
        case priority(@Sendable (Element, Element) -> Bool)
    }

    @usableFromInline let kind: Kind

    /// First in, first out, as Python's `queue.Queue` and `asyncio.Queue`.
    public static var fifo: QueueOrder { QueueOrder(kind: .fifo) }

    /// Last in, first out, as Python's `queue.LifoQueue` and `asyncio.LifoQueue`.
    public static var lifo: QueueOrder { QueueOrder(kind: .lifo) }

    /// Smallest first by `areInIncreasingOrder`, as Python's `queue.PriorityQueue`; items that compare equal
    /// (neither is in increasing order to the other) leave in the order they came.
    ///
    /// - Parameter areInIncreasingOrder: Whether the first item leaves before the second.
    /// - Returns: The order.
    public static func priority(by areInIncreasingOrder: @escaping @Sendable (Element, Element) -> Bool) -> QueueOrder {
        QueueOrder(kind: .priority(areInIncreasingOrder))
    }
}

extension QueueOrder where Element: Comparable & Sendable {
    /// Smallest first, as Python's `queue.PriorityQueue`; equal items leave in the order they came.
    public static var priority: QueueOrder { .priority(by: { $0 < $1 }) }
}
