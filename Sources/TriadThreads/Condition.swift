/// A condition variable, like Python's `threading.Condition`: threads wait, with the condition's lock released,
/// until another thread that holds the lock notifies them.
///
/// ```swift
/// let condition = Condition()
/// // consumer thread
/// try condition.withLock {
///     try condition.wait(for: { !items.isEmpty }, timeout: .seconds(1))
///     take(items.removeFirst())
/// }
/// // producer thread
/// condition.withLock { items.append(x); condition.notify() }
/// ```
///
/// Waiting and notifying need the lock held by the caller, as in Python. A ``Condition`` made with an ``RLock`` (the
/// default) checks that the calling thread is the owner; one made with a ``Lock`` can only check that the lock is
/// held. Either way the failure is a programmer error and stops the program with a precondition failure (Python
/// raises `RuntimeError`), the one policy for misuse across Triad's locks.
///
/// Every wait blocks an OS thread. A condition has no async variant, because its default lock is owned by a thread;
/// async code waits on an ``Event``, a ``Semaphore`` or a ``BlockingQueue`` instead.
public final class Condition: Sendable {
    private enum Underlying: Sendable {
        case lock(Lock)
        case rlock(RLock)
    }

    private let underlying: Underlying
    private let tickets = Guarded(TicketQueue())

    /// Makes a condition over a re-entrant lock, `RLock()` by default, as in Python.
    public init(lock: RLock = RLock()) {
        underlying = .rlock(lock)
    }

    /// Makes a condition over a plain ``Lock``.
    public init(lock: Lock) {
        underlying = .lock(lock)
    }

    /// Blocks the calling OS thread until the condition's lock can be taken, and takes it.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire() {
        switch underlying {
        case .lock(let lock): lock.acquire()
        case .rlock(let lock): lock.acquire()
        }
    }

    /// Blocks the calling OS thread until the condition's lock can be taken or `timeout` passes.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut``.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire(timeout: Duration) throws(ThreadingError) {
        switch underlying {
        case .lock(let lock): try lock.acquire(timeout: timeout)
        case .rlock(let lock): try lock.acquire(timeout: timeout)
        }
    }

    /// Releases the condition's lock (one level of an ``RLock``).
    ///
    /// - Precondition: The lock is held (by the calling thread, for an ``RLock``).
    public func release() {
        switch underlying {
        case .lock(let lock): lock.release()
        case .rlock(let lock): lock.release()
        }
    }

    /// Takes the lock, runs `body`, and releases the lock, also when `body` throws. Blocks an OS thread.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        acquire()
        defer { release() }
        return try body()
    }

    /// Releases the lock, blocks until notified, and takes the lock back before returning.
    ///
    /// Blocks an OS thread. Wake-ups come only from ``notify(_:)`` and ``notifyAll()``, but the state you wait for
    /// may have changed again by the time the lock is back, so prefer ``wait(for:timeout:)``.
    ///
    /// - Precondition: The caller holds the lock.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait() {
        _ = wait(deadline: nil)
    }

    /// Releases the lock, blocks until notified or until `timeout` passes, and takes the lock back either way.
    ///
    /// Blocks an OS thread.
    ///
    /// - Precondition: The caller holds the lock.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if no notification came in time (the lock
    ///   is held again all the same).
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait(timeout: Duration) throws(ThreadingError) {
        guard wait(deadline: .after(timeout)) else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "a condition to be notified")
        }
    }

    /// Waits until `predicate` holds, checking it with the lock held before each wait and after each wake-up.
    ///
    /// Returns at once if the predicate already holds. Blocks an OS thread.
    ///
    /// - Parameters:
    ///   - predicate: The condition to wait for; it runs with the lock held.
    ///   - timeout: The longest total wait; `nil` for none.
    /// - Precondition: The caller holds the lock.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if the predicate still does not hold at the
    ///   timeout (the lock is held again all the same); never without a timeout.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait(for predicate: () -> Bool, timeout: Duration? = nil) throws(ThreadingError) {
        let deadline = Deadline.after(timeout)
        while !predicate() {
            if !wait(deadline: deadline) {
                if predicate() { return }
                throw ThreadingError.timedOut(after: timeout, waitingFor: "a condition's predicate to hold")
            }
        }
    }

    /// Wakes up to `count` threads waiting on the condition, the longest-waiting first. Waking nobody is not an
    /// error.
    ///
    /// - Precondition: The caller holds the lock.
    public func notify(_ count: Int = 1) {
        checkHeld("notify")
        tickets.change { $0.notify(count) }
    }

    /// Wakes every thread waiting on the condition.
    ///
    /// - Precondition: The caller holds the lock.
    public func notifyAll() {
        checkHeld("notify")
        tickets.change { $0.notify(Int.max) }
    }

    private func checkHeld(_ action: String) {
        let held =
            switch underlying {
            case .lock(let lock): lock.isLocked
            case .rlock(let lock): lock.isOwnedByCurrentThread
            }
        precondition(held, "cannot \(action) on a condition whose lock the caller does not hold; acquire it first")
    }

    /// Waits for a notification until `deadline`; returns whether one came. The lock is held again either way.
    private func wait(deadline: Deadline?) -> Bool {
        checkHeld("wait")
        let ticket = tickets.withLock { $0.enqueue() }
        let saved: Int
        switch underlying {
        case .lock(let lock):
            lock.release()
            saved = 1
        case .rlock(let lock):
            saved = lock.releaseAll()
        }
        var notified = tickets.wait(until: deadline, wakesOthers: false) { $0.take(ticket) } != nil
        if !notified {
            notified = tickets.withLock { $0.abandon(ticket) }
        }
        switch underlying {
        case .lock(let lock): lock.acquire()
        case .rlock(let lock): lock.acquire(restoring: saved)
        }
        return notified
    }
}

/// The waiters of a ``Condition``, as tickets in arrival order; notifying moves the oldest to the notified set.
struct TicketQueue {
    private var next: UInt64 = 0
    private var waiting: [UInt64] = []
    private var notified: Set<UInt64> = []

    var waitingCount: Int { waiting.count }

    mutating func enqueue() -> UInt64 {
        next += 1
        waiting.append(next)
        return next
    }

    mutating func notify(_ count: Int) {
        let moved = min(count, waiting.count)
        guard moved > 0 else { return }
        notified.formUnion(waiting.prefix(moved))
        waiting.removeFirst(moved)
    }

    /// Consumes the notification of `ticket`, if it came.
    mutating func take(_ ticket: UInt64) -> Void? {
        notified.remove(ticket) != nil ? () : nil
    }

    /// Withdraws a ticket after a timeout. Returns `true` if a notification had come after all.
    mutating func abandon(_ ticket: UInt64) -> Bool {
        if notified.remove(ticket) != nil { return true }
        waiting.removeAll { $0 == ticket }
        return false
    }
}
