/// A flag that tasks can wait for: the analogue of `asyncio.Event`.
///
/// ``wait()`` returns at once while the flag is set, and otherwise suspends until ``set()``.
public final class AsyncEvent: Sendable {
    private let core = WaitCore(false)

    /// The number of tasks suspended waiting: a test hook, so that tests wait for a waiter instead of sleeping.
    package var waitingCount: Int { core.waiterCount }

    /// Makes an event whose flag is clear.
    public init() {}

    /// Whether the flag is set.
    public var isSet: Bool { core.withState { $0 } }

    /// Sets the flag and wakes every waiter. Setting a set event is not an error.
    public func set() {
        core.wake { flag, _ in
            flag = true
            return Int.max
        }
    }

    /// Clears the flag; later waiters suspend until the next ``set()``.
    public func clear() {
        core.withState { $0 = false }
    }

    /// Waits until the flag is set.
    ///
    /// - Throws: `CancellationError` if the caller is cancelled while waiting.
    public func wait() async throws {
        try await core.wait { flag, _ in flag ? .proceed(waking: 0) : .wait }
    }
}

/// A condition variable for tasks: the analogue of `asyncio.Condition`. It is used with its ``lock``.
///
/// ```swift
/// try await condition.withLock {
///     while items.isEmpty { try await condition.wait() }
///     ...
/// }
/// ```
public final class AsyncCondition: Sendable {
    /// The lock that guards the condition's state.
    public let lock: AsyncLock
    private let core = WaitCore(())

    /// The number of tasks suspended waiting: a test hook, so that tests wait for a waiter instead of sleeping.
    package var waitingCount: Int { core.waiterCount }

    /// Makes a condition.
    ///
    /// - Parameter lock: The lock to use; a new one by default.
    public init(lock: AsyncLock = AsyncLock()) {
        self.lock = lock
    }

    /// Runs `body` holding ``lock``.
    ///
    /// - Parameter body: The critical section.
    /// - Returns: What `body` returns.
    /// - Throws: `CancellationError` if cancelled while waiting for the lock; otherwise what `body` throws.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await lock.withLock(body)
    }

    /// Releases the lock, waits for ``notify(_:)`` or ``notifyAll()``, and takes the lock again before returning.
    /// Call it holding the lock.
    ///
    /// - Throws: `CancellationError` if cancelled while waiting; the lock is held again even then, as in asyncio.
    public func wait() async throws {
        var waitError: (any Error)?
        do {
            // The lock is released only once this waiter is registered, so no notify between the two is lost.
            try await core.wait({ _, _ in .wait }, whenRegistered: { lock.release() })
        } catch {
            waitError = error
        }
        // Take the lock back even when cancelled, so the caller's `withLock` can release it.
        do {
            try await lock.acquire()
        } catch {
            waitError = waitError ?? error
            await withTaskCancellationShielded { try? await self.lock.acquire() }
        }
        if let waitError { throw waitError }
    }

    /// Waits until `predicate` is true, rechecking after each notification. Call it holding the lock.
    ///
    /// - Parameter predicate: The condition to wait for, checked under the lock.
    /// - Throws: `CancellationError` if cancelled while waiting.
    public func wait(until predicate: () -> Bool) async throws {
        while !predicate() { try await wait() }
    }

    /// Wakes up to `count` waiters.
    ///
    /// - Parameter count: How many to wake; 1 by default.
    public func notify(_ count: Int = 1) {
        core.wake { _, _ in count }
    }

    /// Wakes every waiter.
    public func notifyAll() {
        core.wake { _, _ in Int.max }
    }
}

/// Runs `body` in a fresh unstructured task on the same executor preference and waits for it, so that the
/// caller's cancellation does not reach it.
private func withTaskCancellationShielded(_ body: @escaping @Sendable () async -> Void) async {
    let executor = AsyncLoop.current?.taskExecutor
    await Task(executorPreference: executor) { await body() }.value
}
