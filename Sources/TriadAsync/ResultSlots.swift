import Synchronization

/// A shared countdown, for callbacks that finish a stream when the last one runs.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ value: Int) { self.value = Atomic(value) }

    /// Subtracts one and returns the new value.
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}

/// One slot per child task of a gather. Each child writes only its own slot, once, and the parent reads them all
/// only after every child has finished, so no two threads ever touch the same memory at once.
final class ResultSlots<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    func store(_ value: T, at index: Int) {
        slots[index] = value
    }

    /// The values, once every slot is filled.
    func take() -> [T] {
        slots.map { $0! }
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}
