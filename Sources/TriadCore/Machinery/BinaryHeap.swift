/// The order of a ``BinaryHeap``: which of two elements leaves first.
///
/// A type rather than a closure, so that a heap with a fixed order (the loop's sleepers, by deadline) compares
/// inline; ``ClosureOrder`` adapts a closure for orders chosen at run time.
@usableFromInline
package protocol HeapOrder {
    associatedtype Element

    /// Whether `lhs` leaves the heap before `rhs`.
    func leavesFirst(_ lhs: Element, _ rhs: Element) -> Bool
}

/// A run-time order from a comparison closure.
@usableFromInline
package struct ClosureOrder<Element>: HeapOrder {
    @usableFromInline let areInIncreasingOrder: (Element, Element) -> Bool

    /// Orders by `areInIncreasingOrder`: smallest first.
    @inlinable
    package init(_ areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    @inlinable
    package func leavesFirst(_ lhs: Element, _ rhs: Element) -> Bool { areInIncreasingOrder(lhs, rhs) }
}

/// A binary min-heap: the element that leaves first by `Order` is always at the front.
///
/// Ties keep no particular order; a caller that needs equal elements to leave in the order they came adds a
/// sequence number to its order, as ``QueueBuffer`` does.
@usableFromInline
package struct BinaryHeap<Order: HeapOrder> {
    @usableFromInline package typealias Element = Order.Element

    @usableFromInline let order: Order
    /// The elements in heap order (not sorted).
    @usableFromInline package var elements: [Element] = []

    /// Makes an empty heap.
    @inlinable
    package init(_ order: Order) {
        self.order = order
    }

    /// The number of elements.
    @inlinable
    package var count: Int { elements.count }

    /// Whether the heap is empty.
    @inlinable
    package var isEmpty: Bool { elements.isEmpty }

    /// The element that leaves first, if any.
    @inlinable
    package var first: Element? { elements.first }

    /// Adds `element`. O(log n).
    @inlinable
    package mutating func insert(_ element: Element) {
        elements.append(element)
        siftUp(elements.count - 1)
    }

    /// Removes and returns the element that leaves first, or `nil` when empty. O(log n).
    @inlinable
    package mutating func popFirst() -> Element? {
        guard !elements.isEmpty else { return nil }
        let last = elements.removeLast()
        guard !elements.isEmpty else { return last }
        let first = elements[0]
        elements[0] = last
        siftDown(0)
        return first
    }

    /// Removes every element that matches `predicate` in one pass and returns them in leaving order. O(n).
    package mutating func removeAll(where predicate: (Element) -> Bool) -> [Element] {
        var removed: [Element] = []
        var kept: [Element] = []
        kept.reserveCapacity(elements.count)
        for element in elements {
            if predicate(element) { removed.append(element) } else { kept.append(element) }
        }
        guard !removed.isEmpty else { return [] }
        elements = kept
        for index in stride(from: elements.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        return removed.sorted { order.leavesFirst($0, $1) }
    }

    /// Removes every element and returns them in leaving order.
    package mutating func removeAll() -> [Element] {
        let all = elements.sorted { order.leavesFirst($0, $1) }
        elements = []
        return all
    }

    @inlinable
    mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard order.leavesFirst(elements[child], elements[parent]) else { return }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable
    mutating func siftDown(_ start: Int) {
        var parent = start
        let count = elements.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var first = left
            if left + 1 < count, order.leavesFirst(elements[left + 1], elements[left]) { first = left + 1 }
            guard order.leavesFirst(elements[first], elements[parent]) else { return }
            elements.swapAt(first, parent)
            parent = first
        }
    }
}
