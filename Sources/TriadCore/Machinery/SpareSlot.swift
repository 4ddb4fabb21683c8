import Synchronization

/// One spare object kept for reuse by whichever thread takes it first, without a lock: a buffer or a codec's sink
/// that a hot path would otherwise allocate for every call. A thread that finds the slot empty makes its own
/// object; handing an object back while the slot holds another leaves the caller to let it go.
///
/// Sendable whatever the object: an object passes through the slot whole, from one owner to the next, so no two
/// threads use it at once.
package struct SpareSlot<Object: AnyObject>: ~Copyable, Sendable {
    /// The kept object's address as a number, 0 while none is kept or another thread has taken it (a pointer is not
    /// `Sendable`). The slot owns the object it points at: one retain, given up by whoever takes it.
    private let address = Atomic<UInt>(0)

    /// Makes an empty slot.
    package init() {}

    deinit {
        if let object = UnsafeRawPointer(bitPattern: address.load(ordering: .acquiring)) {
            Unmanaged<Object>.fromOpaque(object).release()
        }
    }

    /// The kept object, leaving the slot empty, or `nil` when the slot is empty.
    package func take() -> Object? {
        let taken = address.exchange(0, ordering: .acquiring)
        guard let object = UnsafeRawPointer(bitPattern: taken) else { return nil }
        return Unmanaged<Object>.fromOpaque(object).takeRetainedValue()
    }

    /// Keeps `object` if the slot is empty. Returns `false`, keeping nothing, when another object is kept already.
    package func keep(_ object: Object) -> Bool {
        let retained = Unmanaged.passRetained(object)
        let (kept, _) = address.compareExchange(
            expected: 0, desired: UInt(bitPattern: retained.toOpaque()), ordering: .releasing
        )
        if !kept { retained.release() }
        return kept
    }
}
