/// A first-in, first-out queue on an array with a head index: `append` adds at the back, `popFirst` takes from the
/// front in O(1), and the taken slots are given back in one move once they are most of the array.
///
/// A taken slot is emptied at once, so the queue never keeps a taken element alive. The one compaction rule (all
/// taken, or at least ``compactionThreshold`` taken and they are half the array) keeps a steady queue from copying
/// more than once per element on average.
@usableFromInline
package struct FIFO<Element> {
    @usableFromInline var slots: [Element?] = []
    @usableFromInline var head = 0

    /// How many taken slots there must be before they are given back while the queue is not empty.
    @usableFromInline static var compactionThreshold: Int { 64 }

    /// Makes an empty queue.
    @inlinable
    package init() {}

    /// The number of elements queued.
    @inlinable
    package var count: Int { slots.count - head }

    /// Whether no element is queued.
    @inlinable
    package var isEmpty: Bool { head == slots.count }

    /// The element `popFirst` would return, if any.
    @inlinable
    package var first: Element? { isEmpty ? nil : slots[head] }

    /// Adds `element` at the back.
    @inlinable
    package mutating func append(_ element: Element) {
        slots.append(element)
    }

    /// Removes and returns the front element, or `nil` when the queue is empty.
    @inlinable
    package mutating func popFirst() -> Element? {
        guard head < slots.count else { return nil }
        let element = slots[head].take()
        head += 1
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= Self.compactionThreshold, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes and returns the first element that matches `predicate`, keeping the others in order: a waiter that
    /// leaves the line. O(n).
    package mutating func remove(firstWhere predicate: (Element) -> Bool) -> Element? {
        guard let index = slots[head...].firstIndex(where: { $0.map(predicate) ?? false }) else { return nil }
        let element = slots.remove(at: index)
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        }
        return element
    }

    /// Removes and returns every element, front first.
    package mutating func removeAll() -> [Element] {
        let all = slots[head...].map { $0! }
        slots.removeAll()
        head = 0
        return all
    }
}
