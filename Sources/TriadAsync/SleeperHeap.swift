/// The loop's sleeping tasks, ordered by deadline: the pure state machine under ``LoopTimers``.
///
/// A binary min-heap of `(deadline, id, waiter)`, 24 bytes a sleeper for a continuation. Equal deadlines wake in
/// the order the sleeps began (the `id` breaks ties). A cancelled sleeper is not looked up at once, which would
/// cost a search per cancellation: its id is noted, and the next ``sweepCancelled()`` removes every noted sleeper
/// in one pass; one whose deadline passes first leaves as cancelled. An id noted for a sleeper that has already
/// woken (or never went to sleep) is simply dropped by the next sweep.
struct SleeperHeap<Waiter> {
    struct Entry {
        var deadline: UInt64
        var id: UInt64
        var waiter: Waiter

        func wakesBefore(_ other: Entry) -> Bool {
            (deadline, id) < (other.deadline, other.id)
        }
    }

    private(set) var entries: [Entry] = []
    private var cancelled: Set<UInt64> = []

    /// The number of sleepers in the heap, including cancelled ones not yet swept.
    var count: Int { entries.count }

    /// Whether cancelled sleepers wait for ``sweepCancelled()``.
    var hasCancelled: Bool { !cancelled.isEmpty }

    /// The earliest deadline, if any sleeper is waiting.
    var earliestDeadline: UInt64? { entries.first?.deadline }

    /// Adds a sleeper.
    mutating func insert(deadline: UInt64, id: UInt64, waiter: Waiter) {
        entries.append(Entry(deadline: deadline, id: id, waiter: waiter))
        siftUp(entries.count - 1)
    }

    /// Removes every sleeper whose deadline is at or before `now`, and returns them in wake order: those due,
    /// and those noted as cancelled (whose notes it forgets).
    mutating func popDue(now: UInt64) -> (due: [Waiter], cancelled: [Waiter]) {
        var due: [Waiter] = []
        var cancelledDue: [Waiter] = []
        while let first = entries.first, first.deadline <= now {
            if !cancelled.isEmpty, cancelled.remove(first.id) != nil {
                cancelledDue.append(first.waiter)
            } else {
                due.append(first.waiter)
            }
            removeFirst()
        }
        return (due, cancelledDue)
    }

    /// The number of cancellation notes waiting for a sweep.
    var cancelledCount: Int { cancelled.count }

    /// Notes that sleeper `id` was cancelled; ``sweepCancelled()`` removes it.
    ///
    /// - Returns: Whether this is the first note since the last sweep, so that the caller schedules one sweep.
    mutating func noteCancelled(_ id: UInt64) -> Bool {
        let first = cancelled.isEmpty
        cancelled.insert(id)
        return first
    }

    /// Removes the sleepers noted as cancelled and returns them, in wake order; forgets the notes.
    mutating func sweepCancelled() -> [Waiter] {
        guard !cancelled.isEmpty else { return [] }
        var removed: [Entry] = []
        var kept: [Entry] = []
        kept.reserveCapacity(entries.count)
        for entry in entries {
            if cancelled.contains(entry.id) { removed.append(entry) } else { kept.append(entry) }
        }
        cancelled.removeAll()
        guard !removed.isEmpty else { return [] }
        entries = kept
        for index in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        removed.sort { $0.wakesBefore($1) }
        return removed.map(\.waiter)
    }

    /// Removes and returns every sleeper, in wake order.
    mutating func removeAll() -> [Waiter] {
        let all = entries.sorted { $0.wakesBefore($1) }.map(\.waiter)
        entries = []
        cancelled = []
        return all
    }

    private mutating func removeFirst() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].wakesBefore(entries[parent]) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < entries.count else { return }
            var smallest = left
            if left + 1 < entries.count && entries[left + 1].wakesBefore(entries[left]) { smallest = left + 1 }
            guard entries[smallest].wakesBefore(entries[parent]) else { return }
            entries.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
