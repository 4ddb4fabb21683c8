import Synchronization

/// A shared countdown, for callbacks that finish a stream when the last one runs.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ value: Int) { self.value = Atomic(value) }

    /// Subtracts one and returns the new value.
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}
