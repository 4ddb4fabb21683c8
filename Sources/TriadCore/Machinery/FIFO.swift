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

    /// Adds `element` at the back, moved in rather than copied.
    @inlinable
    package mutating func append(_ element: consuming Element) {
        slots.append(consume element)
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

    /// Removes every element, front first, handing each to `body` without a copy, and keeps the storage for the
    /// appends to come. If `body` throws, the elements after the one it threw for stay queued.
    @inlinable
    package mutating func drain<E: Error>(_ body: (consuming Element) throws(E) -> Void) throws(E) {
        while head < slots.count {
            let element = slots[head].take()!
            head += 1
            try body(element)
        }
        slots.removeAll(keepingCapacity: true)
        head = 0
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

    /// Puts `elements` back at the front, in their order, ahead of every element queued: work that must run
    /// again before the rest. Reuses the taken slots before the head when there are enough of them.
    package mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        if head >= elements.count {
            head -= elements.count
            for (offset, element) in elements.enumerated() { slots[head + offset] = element }
        } else {
            slots.replaceSubrange(0..<head, with: elements.map { Optional($0) })
            head = 0
        }
    }

    /// Puts `element` back at the front, ahead of every element queued: most often the element just taken.
    @inlinable
    package mutating func prepend(_ element: consuming Element) {
        if head > 0 {
            head -= 1
            slots[head] = consume element
        } else {
            slots.insert(consume element, at: 0)
        }
    }

    /// Calls `body` with the front element in place, so a field of it changes without a copy of the element.
    /// Returns nil, without calling `body`, when the queue is empty.
    @inlinable
    package mutating func withFirst<R>(_ body: (inout Element) -> R) -> R? {
        guard head < slots.count else { return nil }
        return body(&slots[head]!)
    }

    /// Calls `body` with each element in place, front first.
    package mutating func updateEach(_ body: (inout Element) -> Void) {
        for index in head..<slots.count { body(&slots[index]!) }
    }
}

extension FIFO: Sequence {
    /// Iterates the queued elements, front first, without taking them.
    @usableFromInline
    package struct Iterator: IteratorProtocol {
        @usableFromInline let slots: ArraySlice<Element?>
        @usableFromInline var index: Int

        @inlinable
        init(slots: ArraySlice<Element?>, index: Int) {
            self.slots = slots
            self.index = index
        }

        @inlinable
        package mutating func next() -> Element? {
            guard index < slots.endIndex else { return nil }
            defer { index += 1 }
            return slots[index]
        }
    }

    /// An iterator over the queued elements, front first.
    @inlinable
    package func makeIterator() -> Iterator {
        let queued = slots[head...]
        return Iterator(slots: queued, index: queued.startIndex)
    }

    /// The number of elements queued.
    @inlinable
    package var underestimatedCount: Int { count }
}

extension FIFO: Sendable where Element: Sendable {}
