import Synchronization

/// A shared countdown, for callbacks that finish a stream when the last one runs.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ value: Int) { self.value = Atomic(value) }

    /// Subtracts one and returns the new value.
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}

/// The shared state of one `gather`: the operations, one result slot per operation, and the index of the next
/// operation to start.
///
/// Every child task of the gather runs the same closure, which claims the next index and runs that operation, so
/// creating a child allocates no closure context of its own. The loop starts children in the order they were
/// added, so operation `i` starts `i`-th, as asyncio's gather does; the index is an atomic counter all the same,
/// so that each operation runs exactly once whatever the order.
final class GatherRun<T: Sendable>: @unchecked Sendable {
    // Unchecked because of `slots`: each child writes only the slot of the index it claimed, once, and the parent
    // reads the slots only after every child has finished (the task group's completion orders the two).
    private let operations: [@Sendable () async throws -> T]
    private let slots: UnsafeMutableBufferPointer<T?>
    private let next = Atomic<Int>(0)

    init(_ operations: [@Sendable () async throws -> T]) {
        self.operations = operations
        slots = .allocate(capacity: operations.count)
        slots.initialize(repeating: nil)
    }

    /// Claims the next operation that no child has run: its index and the operation.
    ///
    /// The child calls the operation itself, not through an async method of this class, so that the child's
    /// task allocator holds one frame fewer: a sleeping child must fit in the allocator's first slab (1 KiB),
    /// or it costs a second one.
    func claim() -> (index: Int, operation: @Sendable () async throws -> T) {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return (index, operations[index])
    }

    /// Stores the value of the operation at `index`.
    func store(_ value: sending T, at index: Int) {
        slots[index] = value
    }

    /// The values, once every operation has succeeded.
    func take() -> [T] {
        Array(unsafeUninitializedCapacity: slots.count) { buffer, count in
            for index in slots.indices {
                (buffer.baseAddress! + index).initialize(to: slots[index]!)
            }
            count = slots.count
        }
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}

/// The shared state of one bounded `map`: the inputs, one result slot per input, and the index of the next input
/// to start. Its `maxConcurrent` worker tasks each claim the next input when their call returns.
final class MapRun<Input: Sendable, T: Sendable>: @unchecked Sendable {
    // Unchecked for the same reason as `GatherRun`: each slot is written once, by the worker that claimed its
    // index, and read only after every worker has finished.
    private let inputs: [Input]
    private let slots: UnsafeMutableBufferPointer<T?>
    private let next = Atomic<Int>(0)

    init(_ inputs: [Input]) {
        self.inputs = inputs
        slots = .allocate(capacity: inputs.count)
        slots.initialize(repeating: nil)
    }

    /// Claims the next input that no worker has started, if one is left.
    func claim() -> (index: Int, input: Input)? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard index < inputs.count else { return nil }
        return (index, inputs[index])
    }

    /// Stores the result for the input at `index`.
    func store(_ value: sending T, at index: Int) {
        slots[index] = value
    }

    /// The results, once every input has one.
    func take() -> [T] {
        slots.map { $0! }
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}
