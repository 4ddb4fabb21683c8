/// A counting semaphore for tasks: the analogue of `asyncio.Semaphore`.
///
/// ``acquire()`` takes a permit or suspends (never blocks a thread) until one is released; waiters are served in
/// arrival order. A cancelled waiter leaves the queue and takes no permit. Works from any task, on the loop or not.
///
/// ```swift
/// let limit = AsyncSemaphore(value: 10)
/// try await limit.withPermit { try await fetch(url) }
/// ```
public final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        let bound: Int?
    }

    private let core: WaitCore<State>

    /// The number of tasks suspended waiting: a test hook, so that tests wait for a waiter instead of sleeping.
    package var waitingCount: Int { core.waiterCount }

    /// Makes a semaphore.
    ///
    /// - Parameter value: The number of permits at the start; must not be negative.
    public init(value: Int) {
        precondition(value >= 0, "a semaphore's initial value must not be negative")
        core = WaitCore(State(permits: value, bound: nil))
    }

    init(bounded value: Int) {
        precondition(value >= 0, "a semaphore's initial value must not be negative")
        core = WaitCore(State(permits: value, bound: value))
    }

    /// The permits free now.
    public var availablePermits: Int { core.withState { $0.permits } }

    /// Whether ``acquire()`` would suspend now.
    public var isLocked: Bool { core.withState { $0.permits == 0 } }

    /// Takes a permit, suspending until one is free.
    ///
    /// - Throws: `CancellationError` if the caller is cancelled while waiting; it then holds no permit.
    public func acquire() async throws {
        try await core.wait { state, _ in
            guard state.permits > 0 else { return .wait }
            state.permits -= 1
            return .proceed(waking: 0)
        }
    }

    /// Takes a permit if one is free, without waiting.
    ///
    /// - Returns: Whether a permit was taken.
    public func tryAcquire() -> Bool {
        core.withState { state in
            guard state.permits > 0 else { return false }
            state.permits -= 1
            return true
        }
    }

    /// Returns a permit, handing it straight to the longest waiter if there is one.
    ///
    /// For a ``AsyncBoundedSemaphore``, releasing more permits than the initial value is a programmer error and
    /// stops the program, as `asyncio.BoundedSemaphore` raises `ValueError`.
    public func release() {
        core.wake { state, waiting in
            if waiting > 0 { return 1 }
            if let bound = state.bound {
                precondition(state.permits < bound, "BoundedSemaphore released more times than it was acquired")
            }
            state.permits += 1
            return 0
        }
    }

    /// Runs `body` holding a permit, and releases it afterwards, also when `body` throws.
    ///
    /// - Parameter body: The work to do while holding the permit.
    /// - Returns: What `body` returns.
    /// - Throws: `CancellationError` if cancelled while waiting for the permit; otherwise what `body` throws.
    public func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }
}

/// A semaphore that refuses to be released above its initial value: the analogue of
/// `asyncio.BoundedSemaphore`. Releasing too often is a programmer error and stops the program.
public typealias AsyncBoundedSemaphore = AsyncSemaphore

extension AsyncSemaphore {
    /// Makes a bounded semaphore, whose ``release()`` may never raise the permits above `value`.
    ///
    /// - Parameter value: The number of permits, which is also the most there can ever be.
    /// - Returns: The semaphore.
    public static func bounded(_ value: Int) -> AsyncSemaphore {
        AsyncSemaphore(bounded: value)
    }
}

/// A mutual-exclusion lock for tasks: the analogue of `asyncio.Lock`. Holding it across `await` is the point:
/// other tasks that want it suspend, and none blocks a thread.
public final class AsyncLock: Sendable {
    private let semaphore = AsyncSemaphore(bounded: 1)

    /// Makes an unlocked lock.
    public init() {}

    /// Whether some task holds the lock.
    public var isLocked: Bool { semaphore.isLocked }

    /// The number of tasks suspended waiting for the lock: a test hook.
    package var waitingCount: Int { semaphore.waitingCount }

    /// Takes the lock, suspending until it is free: `asyncio.Lock.acquire`. Waiters are served in arrival order.
    ///
    /// - Throws: `CancellationError` if the caller is cancelled while waiting; it then does not hold the lock.
    public func acquire() async throws {
        try await semaphore.acquire()
    }

    /// Releases the lock: `asyncio.Lock.release`. Releasing a lock that is not held is a programmer error and stops
    /// the program (a precondition failure), as it does for every lock and semaphore of Triad.
    public func release() {
        semaphore.release()
    }

    /// Runs `body` holding the lock.
    ///
    /// - Parameter body: The critical section.
    /// - Returns: What `body` returns.
    /// - Throws: `CancellationError` if cancelled while waiting for the lock; otherwise what `body` throws.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await semaphore.withPermit(body)
    }
}
