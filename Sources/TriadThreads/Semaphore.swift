/// A counting semaphore, like Python's `threading.Semaphore`: `acquire()` takes one permit, waiting while there
/// are none; ``release(_:)`` gives permits back.
///
/// ```swift
/// let slots = Semaphore(3)                     // at most three at once
/// try await slots.acquire()                    // async: suspends
/// defer { slots.release() }
/// ```
///
/// ``release(_:)`` may raise the count above its initial value; use ``BoundedSemaphore`` to catch that mistake.
public final class Semaphore: Sendable {
    let core: SemaphoreCore

    /// Makes a semaphore with `value` permits.
    ///
    /// - Precondition: `value` is not negative.
    public init(_ value: Int = 1) {
        precondition(value >= 0, "a semaphore starts with zero or more permits, not \(value)")
        core = SemaphoreCore(value: value, bound: nil)
    }

    /// The permits available now. The answer may be stale as soon as it returns.
    public var value: Int { core.value }

    /// Blocks the calling OS thread until a permit is free, and takes it.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `acquire()` with `await`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire() { core.acquire() }

    /// Blocks the calling OS thread until a permit is free or `timeout` passes.
    ///
    /// This blocks an OS thread; the async variant is `acquire(timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if no permit came free in time.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire(timeout: Duration) throws(ThreadingError) { try core.acquire(timeout: timeout) }

    /// Takes a permit if one is free, without waiting. Returns whether it did.
    public func tryAcquire() -> Bool { core.tryAcquire() }

    /// Suspends the calling task until a permit is free, and takes it. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the task is cancelled first.
    public func acquire() async throws(ThreadingError) { try await core.acquireAsync(timeout: nil) }

    /// Suspends the calling task until a permit is free or `timeout` passes. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``.
    public func acquire(timeout: Duration) async throws(ThreadingError) {
        try await core.acquireAsync(timeout: timeout)
    }

    /// Gives back `count` permits, waking as many waiters. Any thread or task may release.
    ///
    /// - Precondition: `count` is at least 1.
    public func release(_ count: Int = 1) {
        core.release(count)
    }
}

/// A semaphore that refuses to rise above its initial value, like Python's `threading.BoundedSemaphore`: releasing
/// more than was acquired is a programmer error, which stops the program with a precondition failure instead of
/// silently adding a permit (Python raises `ValueError`), as every misuse of Triad's locks and semaphores does.
public final class BoundedSemaphore: Sendable {
    let core: SemaphoreCore

    /// Makes a bounded semaphore with `value` permits, which is also its bound.
    ///
    /// - Precondition: `value` is not negative.
    public init(_ value: Int = 1) {
        precondition(value >= 0, "a semaphore starts with zero or more permits, not \(value)")
        core = SemaphoreCore(value: value, bound: value)
    }

    /// The permits available now. The answer may be stale as soon as it returns.
    public var value: Int { core.value }

    /// The most permits the semaphore can hold: its initial value.
    public var bound: Int { core.bound ?? 0 }

    /// Blocks the calling OS thread until a permit is free, and takes it.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `acquire()` with `await`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire() { core.acquire() }

    /// Blocks the calling OS thread until a permit is free or `timeout` passes.
    ///
    /// This blocks an OS thread; the async variant is `acquire(timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if no permit came free in time.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire(timeout: Duration) throws(ThreadingError) { try core.acquire(timeout: timeout) }

    /// Takes a permit if one is free, without waiting. Returns whether it did.
    public func tryAcquire() -> Bool { core.tryAcquire() }

    /// Suspends the calling task until a permit is free, and takes it. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the task is cancelled first.
    public func acquire() async throws(ThreadingError) { try await core.acquireAsync(timeout: nil) }

    /// Suspends the calling task until a permit is free or `timeout` passes. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``.
    public func acquire(timeout: Duration) async throws(ThreadingError) {
        try await core.acquireAsync(timeout: timeout)
    }

    /// Gives back `count` permits, waking as many waiters.
    ///
    /// - Precondition: `count` is at least 1, and the permits do not rise above ``bound``.
    public func release(_ count: Int = 1) { core.release(count) }
}

/// The storage shared by both semaphores.
final class SemaphoreCore: Sendable {
    struct State {
        var value: Int
        let bound: Int?
    }

    private let storage: Guarded<State>
    let bound: Int?

    init(value: Int, bound: Int?) {
        storage = Guarded(State(value: value, bound: bound))
        self.bound = bound
    }

    var value: Int { storage.withLock { $0.value } }

    func acquire() {
        _ = storage.wait(until: nil, wakesOthers: false, Self.take)
    }

    func acquire(timeout: Duration) throws(ThreadingError) {
        guard storage.wait(until: .after(timeout), wakesOthers: false, Self.take) != nil else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "a semaphore permit")
        }
    }

    func tryAcquire() -> Bool { storage.withLock { Self.take(&$0) } != nil }

    func acquireAsync(timeout: Duration?) async throws(ThreadingError) {
        switch await storage.waitAsync(until: .after(timeout), wakesOthers: false, Self.take) {
        case .value: return
        case .timedOut: throw ThreadingError.timedOut(after: timeout, waitingFor: "a semaphore permit")
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "a semaphore permit")
        }
    }

    func release(_ count: Int) {
        precondition(count >= 1, "release at least one permit, not \(count)")
        let misuse = storage.change { (state: inout State) -> String? in
            if let bound = state.bound, state.value + count > bound {
                return "a bounded semaphore was released past its bound of \(bound) (it holds \(state.value), "
                    + "\(count) more were released); release only permits that were acquired"
            }
            state.value += count
            return nil
        }
        if let misuse { preconditionFailure(misuse) }
    }

    private static func take(_ state: inout State) -> Void? {
        guard state.value > 0 else { return nil }
        state.value -= 1
        return ()
    }
}
