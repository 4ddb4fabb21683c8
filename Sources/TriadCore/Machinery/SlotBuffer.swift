import Synchronization

/// Inputs that concurrent workers claim one at a time, and one slot per input that the claiming worker writes
/// once: the shared state of a map run by a few workers (`RunnerMap`) and of TriadAsync's `gather` and bounded
/// `map`.
///
/// Claiming is an atomic increment, so each input is claimed exactly once whatever the workers' order. A value is
/// stored at most once per slot, by the worker that claimed its index; ``take()`` reads the slots once every worker
/// that stores has finished, which the owner orders (a task group's end, the acquiring count of the last job).
package final class SlotBuffer<Input, Value>: @unchecked Sendable {
    // Unchecked because of `slots`: see the type's doc for what orders their writes and reads. `inputs` is never
    // written after init; `next` is atomic.
    @usableFromInline let inputs: [Input]
    @usableFromInline let slots: UnsafeMutableBufferPointer<Value?>
    @usableFromInline let next = Atomic<Int>(0)

    /// Makes the buffer for `inputs`; with `storesValues` false (a run that streams its values instead), it keeps
    /// no slots.
    package init(_ inputs: [Input], storesValues: Bool = true) {
        self.inputs = inputs
        if storesValues {
            slots = .allocate(capacity: inputs.count)
            slots.initialize(repeating: nil)
        } else {
            slots = UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }

    deinit {
        if slots.baseAddress != nil {
            slots.deinitialize()
            slots.deallocate()
        }
    }

    /// The number of inputs.
    @inlinable
    package var count: Int { inputs.count }

    /// Claims the next input that no worker has claimed: its index and the input; `nil` once all are claimed.
    @inlinable
    package func claim() -> (index: Int, input: Input)? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard index < inputs.count else { return nil }
        return (index, inputs[index])
    }

    /// Stores the value for the input at `index`; only its claimer calls this, once.
    @inlinable
    package func store(_ value: sending Value, at index: Int) {
        slots[index] = value
    }

    /// The values in input order, once every input has one.
    package func take() -> [Value] {
        Array(unsafeUninitializedCapacity: slots.count) { buffer, count in
            for index in slots.indices {
                (buffer.baseAddress! + index).initialize(to: slots[index]!)
            }
            count = slots.count
        }
    }
}
