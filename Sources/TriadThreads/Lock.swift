import Synchronization

/// A mutual-exclusion lock, like Python's `threading.Lock`: one holder at a time, acquired with or without a
/// timeout, from OS threads or from async code.
///
/// The lock has no owner: any thread or task may release it, as in Python. That is what lets an async task hold it
/// across suspension points, where it may move between threads. Use ``RLock`` for re-entrancy and an owner check.
///
/// ```swift
/// let lock = Lock()
/// lock.withLock { counter += 1 }                 // blocking, on an OS thread
/// try await lock.withLock { await update() }     // suspending, in async code
/// ```
///
/// Protecting plain data inside one process is cheaper with `Synchronization.Mutex`; `Lock` is for what `Mutex`
/// cannot do: timeouts, async waiting, and holding the lock across calls.
public final class Lock: Sendable {
    // 0: free; 1: held; 2: held, and threads or tasks may be waiting. Taking a free lock and releasing one that nobody
    // waits for touch only this atomic; `waiters` parks and wakes the rest.
    private let state = Atomic<Int>(0)
    private let waiters = Guarded(())

    /// Makes an unlocked lock.
    public init() {}

    /// Blocks the calling OS thread until the lock is free, then takes it.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `acquire()` with `await`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire() {
        if fastTake() { return }
        _ = waiters.wait(until: nil, wakesOthers: false) { _ in contendedTake() }
    }

    /// Blocks the calling OS thread until the lock is free or `timeout` passes.
    ///
    /// This blocks an OS thread; the async variant is `acquire(timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if the lock was still held at the timeout.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire(timeout: Duration) throws(ThreadingError) {
        if fastTake() { return }
        guard waiters.wait(until: .after(timeout), wakesOthers: false, { _ in contendedTake() }) != nil else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "a lock")
        }
    }

    /// Takes the lock if it is free, without waiting. Returns whether it did.
    public func tryAcquire() -> Bool {
        fastTake()
    }

    /// Suspends the calling task until the lock is free, then takes it. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the task is cancelled while it waits;
    ///   the lock is then not taken.
    public func acquire() async throws(ThreadingError) {
        try await acquireAsync(deadline: nil, timeout: nil)
    }

    /// Suspends the calling task until the lock is free or `timeout` passes. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``.
    public func acquire(timeout: Duration) async throws(ThreadingError) {
        try await acquireAsync(deadline: .after(timeout), timeout: timeout)
    }

    /// Releases the lock, waking one waiter.
    ///
    /// - Precondition: The lock is held. Releasing a lock that nobody holds is a programmer error and stops the
    ///   program, as every misuse of Triad's locks and semaphores does (Python raises `RuntimeError`).
    public func release() {
        switch state.exchange(0, ordering: .releasing) {
        case 0:
            preconditionFailure("a lock that nobody holds was released; release only after acquire")
        case 1:
            return
        default:
            waiters.change { _ in }
        }
    }

    /// Whether someone holds the lock now. The answer may be stale as soon as it returns.
    public var isLocked: Bool { state.load(ordering: .relaxed) != 0 }

    /// Blocks until the lock is free, runs `body` with it held, and releases it, also when `body` throws.
    ///
    /// This blocks an OS thread; from async code use the async `withLock`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        acquire()
        defer { release() }
        return try body()
    }

    /// Suspends until the lock is free, runs `body` with it held, and releases it, also when `body` throws. This is
    /// what `withLock` means in async code.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if cancelled before the lock was taken,
    ///   or what `body` throws.
    public func withLock<R>(_ body: () throws -> sending R) async throws -> sending R {
        try await acquire()
        defer { release() }
        return try body()
    }

    /// Suspends until the lock is free, runs the async `body` with it held (across its suspensions), and releases
    /// it, also when `body` throws.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if cancelled before the lock was taken,
    ///   or what `body` throws.
    public func withLock<R>(_ body: () async throws -> sending R) async throws -> sending R {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquireAsync(deadline: Deadline?, timeout: Duration?) async throws(ThreadingError) {
        if fastTake() { return }
        switch await waiters.waitAsync(until: deadline, wakesOthers: false, { _ in contendedTake() }) {
        case .value: return
        case .timedOut: throw ThreadingError.timedOut(after: timeout, waitingFor: "a lock")
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "a lock")
        }
    }

    @inline(__always)
    private func fastTake() -> Bool {
        state.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
    }

    /// Takes the lock for a waiter, marking it contended either way, so the holder's release wakes the waiters.
    @inline(__always)
    private func contendedTake() -> Void? {
        state.exchange(2, ordering: .acquiring) == 0 ? () : nil
    }
}
