#if os(Linux)
// The async variants of ProcessQueue's calls. Each first tries without waiting, and without waiting for the lock;
// if it must wait, it waits on a dedicated thread, never on Swift's cooperative pool. Cancelling the awaiting task
// ends the wait within 100 ms with `IPCError.Code.cancelled`, and nothing is put or taken.
extension ProcessQueue {
    /// Puts a value, suspending while the queue is full.
    ///
    /// - Throws: As ``put(_:timeout:)-63rkw``, and ``IPCError/Code/cancelled``.
    public func put(_ value: Element, timeout: Duration? = nil) async throws(IPCError) {
        let bytes = try encode(value)
        if try putWithoutWaiting(bytes) { return }
        let deadline = IPCDeadline(timeout: timeout)
        try await IPCBlockingThreads.shared.run { [self] stop throws(IPCError) in
            try putBytes(bytes, deadline: deadline, wait: true, stop: stop)
        }
    }

    /// Takes and removes the value at the front, suspending while the queue is empty.
    ///
    /// - Throws: As ``get(timeout:)-1tmdd``, and ``IPCError/Code/cancelled``.
    public func get(timeout: Duration? = nil) async throws(IPCError) -> Element {
        let taken = try await take(lease: false, timeout: timeout)
        return try decode(taken.bytes)
    }

    /// Leases the value at the front, suspending while the queue is empty.
    ///
    /// - Throws: As ``receive(timeout:)-7hso2``, and ``IPCError/Code/cancelled``.
    public func receive(timeout: Duration? = nil) async throws(IPCError) -> Delivery {
        try delivery(await take(lease: true, timeout: timeout))
    }

    private func take(lease: Bool, timeout: Duration?) async throws(IPCError) -> ProcessQueueStorage.Taken {
        if let taken = try takeWithoutWaiting(lease: lease) { return taken }
        let deadline = IPCDeadline(timeout: timeout)
        return try await IPCBlockingThreads.shared.run { [self] stop throws(IPCError) in
            try takeBytes(lease: lease, deadline: deadline, wait: true, stop: stop)
        }
    }

    /// Puts if the lock is free and there is room; `false` otherwise.
    private func putWithoutWaiting(_ bytes: [UInt8]) throws(IPCError) -> Bool {
        guard try storage.tryLock() else { return false }
        if storage.isClosed {
            storage.unlock()
            throw IPCError(.closed, "the queue is closed; nothing more can be put")
        }
        let (stored, wake) = bytes.withUnsafeBytes { storage.put($0) }
        storage.unlock()
        if wake { storage.wakeConsumers() }
        return stored
    }

    /// Takes if the lock is free and a value is waiting; `nil` otherwise.
    private func takeWithoutWaiting(lease: Bool) throws(IPCError) -> ProcessQueueStorage.Taken? {
        guard storage.readyCount > 0, try storage.tryLock() else { return nil }
        _ = storage.sweep(force: false)
        let (taken, wake) = storage.take(lease: lease)
        storage.unlock()
        if wake { storage.wakeProducers() }
        return taken
    }
}
#endif
