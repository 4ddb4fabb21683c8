/// The state of a value that is settled once, and of the parties waiting for it: the one machine under a job's
/// handle (`JobHandle`) and a loop task's outcome (TriadAsync's `TaskCompletion`).
///
/// It is a plain value, kept under its owner's lock. The first ``resolve(_:)`` wins and hands back everyone who
/// must hear of it; the owner wakes them after the lock (``Wakeups/run()``), so no waiter or callback ever runs
/// under it. Waiters have ids, so that a cancelled wait can leave (``removeWaiter(_:)``); the common case of one
/// waiter and one callback allocates no dictionary.
package struct Promise<Outcome: Sendable> {
    /// A suspended waiter, resumed with the outcome.
    package typealias Waiter = UnsafeContinuation<Outcome, Never>
    /// A callback, run with the outcome on the thread that resolves it.
    package typealias Callback = @Sendable (Outcome) -> Void

    /// The outcome, once resolved.
    package private(set) var outcome: Outcome?
    private var nextWaiter: UInt64 = 0
    private var waiters: [(id: UInt64, continuation: Waiter)] = []
    /// The first callback, kept apart so that the usual single callback allocates no array.
    private var firstCallback: Callback?
    private var moreCallbacks: [Callback] = []

    /// Makes an unresolved promise.
    package init() {}

    /// Whether the promise is resolved.
    package var isResolved: Bool { outcome != nil }

    /// Gives a waiter its id; pass the id to ``addWaiter(_:id:)`` and, if the wait is cancelled, to
    /// ``removeWaiter(_:)``.
    package mutating func nextWaiterID() -> UInt64 {
        nextWaiter &+= 1
        return nextWaiter
    }

    /// Registers `waiter`, or returns the outcome (registering nothing) if the promise is already resolved; the
    /// caller then resumes the waiter itself, after the lock.
    package mutating func addWaiter(_ waiter: Waiter, id: UInt64 = 0) -> Outcome? {
        if let outcome { return outcome }
        waiters.append((id, waiter))
        return nil
    }

    /// Removes the waiter with `id`, if it still waits, and returns it for the caller to resume.
    package mutating func removeWaiter(_ id: UInt64) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).continuation
    }

    /// Registers `callback`, or returns the outcome (registering nothing) if the promise is already resolved; the
    /// caller then runs the callback itself, after the lock.
    package mutating func addCallback(_ callback: @escaping Callback) -> Outcome? {
        if let outcome { return outcome }
        if firstCallback == nil {
            firstCallback = callback
        } else {
            moreCallbacks.append(callback)
        }
        return nil
    }

    /// Settles the promise with `outcome` and returns everyone to tell, or `nil` (changing nothing) if it was
    /// already settled: of two racing resolutions exactly one wins.
    package mutating func resolve(_ outcome: Outcome) -> Wakeups? {
        guard self.outcome == nil else { return nil }
        self.outcome = outcome
        let wakeups = Wakeups(
            outcome: outcome,
            waiters: waiters,
            firstCallback: firstCallback,
            moreCallbacks: moreCallbacks
        )
        waiters = []
        firstCallback = nil
        moreCallbacks = []
        return wakeups
    }

    /// The waiters and callbacks of a resolution, to run after the lock.
    package struct Wakeups {
        let outcome: Outcome
        let waiters: [(id: UInt64, continuation: Waiter)]
        let firstCallback: Callback?
        let moreCallbacks: [Callback]

        /// Runs every callback in the order they were added, then resumes every waiter: what a callback records
        /// (an executor's metrics, its log of a failure, a span's end) is there when an awaiting task goes on.
        package func run() {
            firstCallback?(outcome)
            for callback in moreCallbacks { callback(outcome) }
            for waiter in waiters { waiter.continuation.resume(returning: outcome) }
        }
    }
}
