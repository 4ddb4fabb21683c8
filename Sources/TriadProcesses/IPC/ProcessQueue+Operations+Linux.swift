#if os(Linux)
import Synchronization

extension ProcessQueue {
    /// A value leased to this process by ``ProcessQueue/receive(timeout:)-7hso2``. It stays in the queue, counted
    /// towards ``ProcessQueue/maxSize``, until it is acknowledged; if this process dies first, it goes back to the
    /// queue.
    ///
    /// Settle each delivery once, with ``acknowledge()`` or ``requeue()``. A delivery dropped unsettled is requeued.
    public final class Delivery: Sendable {
        /// The value.
        public let value: Element
        /// How many times the value has been delivered: 1 the first time, more after consumers died holding it or
        /// requeued it.
        public let deliveryCount: Int
        let taken: ProcessQueueStorage.Taken
        let storage: ProcessQueueStorage
        private let settled = Atomic<Bool>(false)

        init(value: Element, taken: ProcessQueueStorage.Taken, storage: ProcessQueueStorage) {
            self.value = value
            self.deliveryCount = Int(taken.deliveries)
            self.taken = taken
            self.storage = storage
        }

        deinit {
            if !settled.load(ordering: .acquiring) { try? settle(acknowledging: false) }
        }

        /// Whether an earlier delivery of this value was not acknowledged (its consumer died or requeued it): the
        /// value may have been partly handled before.
        public var isRedelivered: Bool { deliveryCount > 1 }

        /// Removes the value from the queue for good and frees its slot.
        ///
        /// - Throws: ``IPCError/Code/consumerDied`` if the queue took the lease back because it judged this
        ///   process dead (it is then delivered again elsewhere). Settling a delivery twice is a programmer error.
        public func acknowledge() throws(IPCError) {
            try settle(acknowledging: true)
        }

        /// Puts the value back at the front of the queue, to be delivered again.
        ///
        /// - Throws: ``IPCError/Code/consumerDied`` as ``acknowledge()``.
        public func requeue() throws(IPCError) {
            try settle(acknowledging: false)
        }

        private func settle(acknowledging: Bool) throws(IPCError) {
            precondition(!settled.exchange(true, ordering: .acquiringAndReleasing), "a delivery was settled twice")
            try storage.lock()
            var held = true
            var wake = false
            if acknowledging {
                if let wakeProducers = storage.acknowledge(taken) { wake = wakeProducers } else { held = false }
            } else {
                held = storage.requeue(taken)
            }
            let closed = storage.isClosed
            storage.unlock()
            if wake { storage.wakeProducers() }
            // A requeued value is for consumers; on a closed queue, the last acknowledgement ends their wait.
            if held && (!acknowledging || closed) { storage.wakeConsumers(all: true) }
            guard held else {
                throw IPCError(
                    .consumerDied,
                    "the queue took this delivery back because it judged its consumer dead; it will be delivered again"
                )
            }
        }
    }

    // MARK: Blocking calls

    /// Puts a value at the back of the queue, waiting for room while the queue is full.
    ///
    /// - Parameters:
    ///   - value: The value; its encoding must fit in ``slotSize``.
    ///   - timeout: How long to wait for room; `nil` waits as long as it takes.
    /// - Throws: ``IPCError/Code/tooLarge`` (nothing put), ``IPCError/Code/timedOut`` (nothing put),
    ///   ``IPCError/Code/closed``, ``IPCError/Code/encodingFailed``.
    public func put(_ value: Element, timeout: Duration? = nil) throws(IPCError) {
        try putBytes(encode(value), deadline: IPCDeadline(timeout: timeout), wait: true, stop: nil)
    }

    /// Puts a value if there is room now.
    ///
    /// - Throws: ``IPCError/Code/full`` if the queue is full; otherwise as ``put(_:timeout:)-63rkw``.
    public func tryPut(_ value: Element) throws(IPCError) {
        try putBytes(encode(value), deadline: IPCDeadline(timeout: .zero), wait: false, stop: nil)
    }

    /// Takes the value at the front of the queue and removes it at once, waiting while the queue is empty.
    ///
    /// - Parameter timeout: How long to wait; `nil` waits as long as it takes.
    /// - Throws: ``IPCError/Code/timedOut`` (nothing taken); ``IPCError/Code/closed`` once the queue is closed and
    ///   drained; ``IPCError/Code/decodingFailed`` if the value is not an `Element` (it is removed).
    public func get(timeout: Duration? = nil) throws(IPCError) -> Element {
        let taken = try takeBytes(lease: false, deadline: IPCDeadline(timeout: timeout), wait: true, stop: nil)
        return try decode(taken.bytes)
    }

    /// Takes a value if one is waiting now.
    ///
    /// - Throws: ``IPCError/Code/empty`` if none is; otherwise as ``get(timeout:)-1tmdd``.
    public func tryGet() throws(IPCError) -> Element {
        let taken = try takeBytes(lease: false, deadline: IPCDeadline(timeout: .zero), wait: false, stop: nil)
        return try decode(taken.bytes)
    }

    /// Leases the value at the front of the queue to this process, waiting while the queue is empty. See the
    /// delivery guarantee in ``ProcessQueue``.
    ///
    /// - Parameter timeout: How long to wait; `nil` waits as long as it takes.
    /// - Returns: The delivery; acknowledge it once the value is handled.
    /// - Throws: As ``get(timeout:)-1tmdd``. A value that fails to decode is removed (it would fail for every
    ///   consumer).
    public func receive(timeout: Duration? = nil) throws(IPCError) -> Delivery {
        let taken = try takeBytes(lease: true, deadline: IPCDeadline(timeout: timeout), wait: true, stop: nil)
        return try delivery(taken)
    }

    func delivery(_ taken: ProcessQueueStorage.Taken) throws(IPCError) -> Delivery {
        let value: Element
        do {
            value = try decode(taken.bytes)
        } catch {
            try storage.lock()
            let wake = storage.acknowledge(taken) ?? false
            storage.unlock()
            if wake { storage.wakeProducers() }
            throw error
        }
        return Delivery(value: value, taken: taken, storage: storage)
    }

    // MARK: The loops

    func putBytes(_ bytes: [UInt8], deadline: IPCDeadline, wait: Bool, stop: IPCStopFlag?) throws(IPCError) {
        while true {
            try storage.lock()
            if storage.isClosed {
                storage.unlock()
                throw IPCError(.closed, "the queue is closed; nothing more can be put")
            }
            let (stored, wake) = bytes.withUnsafeBytes { storage.put($0) }
            if stored {
                storage.unlock()
                if wake { storage.wakeConsumers() }
                return
            }
            // A full queue may be full of leases of dead consumers.
            if storage.sweep(force: false) > 0 {
                storage.unlock()
                continue
            }
            if !wait {
                storage.unlock()
                throw IPCError(.full, "the queue holds its maximum of \(storage.capacity) values; nothing was put")
            }
            if deadline.hasPassed {
                storage.unlock()
                throw IPCError(.timedOut, "the queue stayed full until the timeout; nothing was put")
            }
            if let stop, stop.isStopped {
                storage.unlock()
                throw IPCError(.cancelled, "the waiting task was cancelled; nothing was put")
            }
            let seen = storage.prepareToWaitForRoom()
            storage.unlock()
            storage.waitForRoom(seen: seen, nanoseconds: deadline.remaining(atMost: ProcessQueueStorage.sweepInterval))
            if let stop, stop.isStopped {
                throw IPCError(.cancelled, "the waiting task was cancelled; nothing was put")
            }
        }
    }

    func takeBytes(
        lease: Bool,
        deadline: IPCDeadline,
        wait: Bool,
        stop: IPCStopFlag?
    ) throws(IPCError) -> ProcessQueueStorage.Taken {
        if wait { storage.spinForValue(nanoseconds: spinNanoseconds) }
        while true {
            try storage.lock()
            // Values of dead consumers go back to the front before anything else is taken.
            _ = storage.sweep(force: false)
            let (taken, wake) = storage.take(lease: lease)
            if let taken {
                storage.unlock()
                if wake { storage.wakeProducers() }
                return taken
            }
            if storage.isClosed && storage.leasedCount == 0 {
                storage.unlock()
                throw IPCError(.closed, "the queue is closed and every value has been taken")
            }
            if !wait {
                storage.unlock()
                throw IPCError(.empty, "no value is waiting in the queue")
            }
            if deadline.hasPassed {
                storage.unlock()
                throw IPCError(.timedOut, "no value arrived before the timeout; nothing was taken")
            }
            if let stop, stop.isStopped {
                storage.unlock()
                throw IPCError(.cancelled, "the waiting task was cancelled; nothing was taken")
            }
            let seen = storage.prepareToWaitForValue()
            storage.unlock()
            storage.waitForValue(seen: seen, nanoseconds: deadline.remaining(atMost: ProcessQueueStorage.sweepInterval))
            if let stop, stop.isStopped {
                throw IPCError(.cancelled, "the waiting task was cancelled; nothing was taken")
            }
        }
    }
}
#endif
