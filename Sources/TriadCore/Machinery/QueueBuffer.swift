/// A queue's items in its ``QueueOrder``: a ``FIFO``, a stack, or a ``BinaryHeap`` whose ties leave in the order
/// they came (each item carries the number of its put).
@usableFromInline
package struct QueueBuffer<Element> {
    @usableFromInline
    struct Stable: HeapOrder {
        @usableFromInline let areInIncreasingOrder: @Sendable (Element, Element) -> Bool

        @inlinable
        init(_ areInIncreasingOrder: @escaping @Sendable (Element, Element) -> Bool) {
            self.areInIncreasingOrder = areInIncreasingOrder
        }

        @inlinable
        func leavesFirst(_ lhs: (item: Element, sequence: UInt64), _ rhs: (item: Element, sequence: UInt64)) -> Bool {
            if areInIncreasingOrder(lhs.item, rhs.item) { return true }
            if areInIncreasingOrder(rhs.item, lhs.item) { return false }
            return lhs.sequence < rhs.sequence
        }
    }

    @usableFromInline
    enum Storage {
        case fifo(FIFO<Element>)
        case lifo([Element])
        case priority(BinaryHeap<Stable>)
    }

    @usableFromInline var storage: Storage
    @usableFromInline var sequence: UInt64 = 0

    /// Makes an empty buffer in `order`.
    @inlinable
    package init(_ order: QueueOrder<Element>) {
        switch order.kind {
        case .fifo: storage = .fifo(FIFO())
        case .lifo: storage = .lifo([])
        case .priority(let less): storage = .priority(BinaryHeap(Stable(less)))
        }
    }

    /// The number of items.
    @inlinable
    package var count: Int {
        switch storage {
        case .fifo(let items): items.count
        case .lifo(let items): items.count
        case .priority(let heap): heap.count
        }
    }

    /// Adds an item.
    @inlinable
    package mutating func push(_ item: Element) {
        // Each case takes its payload out first, so that it is uniquely referenced while it changes.
        switch storage {
        case .fifo(var items):
            storage = .lifo([])
            items.append(item)
            storage = .fifo(items)
        case .lifo(var items):
            storage = .lifo([])
            items.append(item)
            storage = .lifo(items)
        case .priority(var heap):
            storage = .lifo([])
            sequence &+= 1
            heap.insert((item, sequence))
            storage = .priority(heap)
        }
    }

    /// Removes and returns the next item in the buffer's order, or `nil` when empty.
    @inlinable
    package mutating func pop() -> Element? {
        switch storage {
        case .fifo(var items):
            storage = .lifo([])
            defer { storage = .fifo(items) }
            return items.popFirst()
        case .lifo(var items):
            storage = .lifo([])
            defer { storage = .lifo(items) }
            return items.popLast()
        case .priority(var heap):
            storage = .lifo([])
            defer { storage = .priority(heap) }
            return heap.popFirst()?.item
        }
    }
}
