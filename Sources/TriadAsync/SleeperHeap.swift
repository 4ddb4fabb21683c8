import TriadCore

/// The loop's sleeping tasks, ordered by deadline: the pure state machine under ``LoopTimers``.
///
/// A binary min-heap of `(deadline, id, waiter)`, 24 bytes a sleeper for a continuation. Equal deadlines wake in
/// the order the sleeps began (the `id` breaks ties). A cancelled sleeper is not looked up at once, which would
/// cost a search per cancellation: its id is noted, and the next ``sweepCancelled()`` removes every noted sleeper
/// in one pass; one whose deadline passes first leaves as cancelled. An id noted for a sleeper that has already
/// woken (or never went to sleep) is simply dropped by the next sweep.
package struct SleeperHeap<Waiter> {
    package struct Entry {
        var deadline: UInt64
        var id: UInt64
        var waiter: Waiter
    }

    /// Earlier deadline first; equal deadlines by id, the order the sleeps began.
    package struct WakeOrder: HeapOrder {
        package func leavesFirst(_ lhs: Entry, _ rhs: Entry) -> Bool {
            (lhs.deadline, lhs.id) < (rhs.deadline, rhs.id)
        }
    }

    private var heap = BinaryHeap(WakeOrder())

    /// Makes an empty heap.
    package init() {}
    private var cancelled: Set<UInt64> = []

    /// The sleepers in heap order (not sorted), including cancelled ones not yet swept.
    package var entries: [Entry] { heap.elements }

    /// The number of sleepers in the heap, including cancelled ones not yet swept.
    package var count: Int { heap.count }

    /// Whether cancelled sleepers wait for ``sweepCancelled()``.
    package var hasCancelled: Bool { !cancelled.isEmpty }

    /// The earliest deadline, if any sleeper is waiting.
    package var earliestDeadline: UInt64? { heap.first?.deadline }

    /// Adds a sleeper.
    package mutating func insert(deadline: UInt64, id: UInt64, waiter: Waiter) {
        heap.insert(Entry(deadline: deadline, id: id, waiter: waiter))
    }

    /// Removes every sleeper whose deadline is at or before `now`, and returns them in wake order: those due,
    /// and those noted as cancelled (whose notes it forgets).
    package mutating func popDue(now: UInt64) -> (due: [Waiter], cancelled: [Waiter]) {
        var due: [Waiter] = []
        var cancelledDue: [Waiter] = []
        while let first = heap.first, first.deadline <= now {
            if !cancelled.isEmpty, cancelled.remove(first.id) != nil {
                cancelledDue.append(first.waiter)
            } else {
                due.append(first.waiter)
            }
            _ = heap.popFirst()
        }
        return (due, cancelledDue)
    }

    /// The number of cancellation notes waiting for a sweep.
    package var cancelledCount: Int { cancelled.count }

    /// Notes that sleeper `id` was cancelled; ``sweepCancelled()`` removes it.
    ///
    /// - Returns: Whether this is the first note since the last sweep, so that the caller schedules one sweep.
    package mutating func noteCancelled(_ id: UInt64) -> Bool {
        let first = cancelled.isEmpty
        cancelled.insert(id)
        return first
    }

    /// Removes the sleepers noted as cancelled and returns them, in wake order; forgets the notes.
    package mutating func sweepCancelled() -> [Waiter] {
        guard !cancelled.isEmpty else { return [] }
        let noted = cancelled
        cancelled.removeAll()
        return heap.removeAll { noted.contains($0.id) }.map(\.waiter)
    }

    /// Removes and returns every sleeper, in wake order.
    package mutating func removeAll() -> [Waiter] {
        cancelled = []
        return heap.removeAll().map(\.waiter)
    }
}
