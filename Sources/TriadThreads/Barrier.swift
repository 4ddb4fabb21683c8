/// A meeting point for a fixed number of threads, like Python's `threading.Barrier`: each thread calls
/// ``wait(timeout:)`` and blocks until all ``parties`` have arrived; then all go on together, and the barrier is ready
/// for the next round.
///
/// ```swift
/// let barrier = Barrier(parties: 3, action: { print("all three arrived") })
/// // on each of three threads:
/// let index = try barrier.wait(timeout: .seconds(5))   // 0, 1 or 2, in order of arrival
/// ```
///
/// ## Breaking
/// A barrier *breaks* when ``abort()`` is called, when a waiter's timeout passes, when the ``action`` throws, or when
/// ``reset()`` is called while threads wait. Every thread waiting then throws ``ThreadingError`` with
/// ``ThreadingError/Code/brokenBarrier``, and so does every later arrival, until ``reset()``. As in Python, a timeout
/// breaks the barrier for everyone: the other parties could otherwise wait forever for the one that gave up.
///
/// Every wait blocks an OS thread; a barrier is a tool for ``Thread``s and pool workers.
public final class Barrier: Sendable {
    /// How many threads must call ``wait(timeout:)`` before all of them go on.
    public let parties: Int
    /// The timeout that ``wait(timeout:)`` uses when given none; `nil` for none.
    public let defaultTimeout: Duration?
    /// Runs once per round, on the last thread to arrive, before any thread goes on. If it throws, the barrier breaks.
    public let action: (@Sendable () throws -> Void)?

    private let storage: Guarded<BarrierState>

    /// Makes a barrier.
    ///
    /// - Parameters:
    ///   - parties: How many threads meet; at least 1.
    ///   - timeout: The default timeout of each wait; `nil` for none.
    ///   - action: Code to run once per round, on the last thread to arrive, before the others are released. It
    ///     must not wait on this barrier.
    /// - Precondition: `parties` is at least 1.
    public init(parties: Int, timeout: Duration? = nil, action: (@Sendable () throws -> Void)? = nil) {
        precondition(parties >= 1, "a barrier needs at least one party, not \(parties)")
        self.parties = parties
        self.defaultTimeout = timeout
        self.action = action
        self.storage = Guarded(BarrierState(parties: parties))
    }

    /// How many threads are waiting at the barrier now.
    public var waitingCount: Int { storage.withLock { $0.arrived } }

    /// Whether the barrier is broken (see "Breaking" above).
    public var isBroken: Bool { storage.withLock { $0.brokenReason != nil } }

    /// Blocks the calling OS thread until all ``parties`` have arrived, then returns this thread's arrival index
    /// (0 for the first, `parties - 1` for the last), as Python's `Barrier.wait` does.
    ///
    /// This blocks an OS thread: do not call it from async code.
    ///
    /// - Parameter timeout: How long to wait; `nil` uses ``defaultTimeout``. When it passes, the barrier breaks.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/brokenBarrier`` if the barrier is or becomes broken
    ///   (the message says why), or the error ``action`` threw, on the thread that ran it.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> Int {
        let timeout = timeout ?? defaultTimeout
        let deadline = Deadline.after(timeout)
        let arrival = storage.wait(until: deadline, wakesOthers: true) { $0.arrive() }
        guard let arrival else {
            storage.change { $0.breakBarrier("a thread timed out after \(timeout!) before it could arrive") }
            throw storage.withLock { $0.brokenError() }
        }
        switch arrival {
        case .broken:
            throw storage.withLock { $0.brokenError() }
        case .last(let index):
            do {
                try action?()
            } catch {
                storage.change { $0.breakBarrier("the barrier's action threw \(error)") }
                throw error
            }
            // An abort() while the action ran breaks this round too.
            guard storage.change({ $0.release() }) else { throw storage.withLock { $0.brokenError() } }
            return index
        case .waiting(let index, let generation):
            let passed = storage.wait(until: deadline, wakesOthers: false) { $0.hasPassed(generation) }
            if let passed {
                if passed { return index }
                throw storage.withLock { $0.brokenError() }
            }
            let late = storage.change { state in
                state.hasPassed(generation) ?? {
                    state.breakBarrier("a thread timed out after \(timeout!) waiting for all parties")
                    return false
                }()
            }
            if late { return index }
            throw storage.withLock { $0.brokenError() }
        }
    }

    /// Breaks the barrier: every thread waiting, and every later arrival, throws
    /// ``ThreadingError/Code/brokenBarrier`` until ``reset()``. Use it to stop the other parties when one cannot
    /// come. Aborting a broken barrier is not an error.
    public func abort() {
        storage.change { $0.breakBarrier("abort() was called") }
    }

    /// Returns the barrier to its empty, unbroken state. Threads waiting at the moment throw
    /// ``ThreadingError/Code/brokenBarrier``, as in Python.
    public func reset() {
        storage.change { $0.reset() }
    }
}

/// The state machine of a ``Barrier``: rounds (generations) that fill up, run the action and release.
struct BarrierState {
    enum Arrival {
        case waiting(index: Int, generation: UInt64)
        case last(index: Int)
        case broken
    }

    let parties: Int
    private(set) var arrived = 0
    private(set) var generation: UInt64 = 0
    private(set) var brokenReason: String?
    private var runningAction = false
    /// Generations that ended by a break or a reset rather than by all parties arriving.
    private var brokenGenerations: Set<UInt64> = []

    init(parties: Int) {
        self.parties = parties
    }

    /// Arrives, or returns `nil` to wait while the last arrival runs the action.
    mutating func arrive() -> Arrival? {
        if brokenReason != nil { return .broken }
        if runningAction { return nil }
        let index = arrived
        arrived += 1
        if arrived == parties {
            runningAction = true
            return .last(index: index)
        }
        return .waiting(index: index, generation: generation)
    }

    /// `true` once the round of `generation` has passed, `false` if it ended broken, `nil` while it waits.
    func hasPassed(_ waited: UInt64) -> Bool? {
        if waited == generation { return brokenReason == nil ? nil : false }
        return !brokenGenerations.contains(waited)
    }

    /// Ends the round after the action; `false` if the barrier broke meanwhile.
    mutating func release() -> Bool {
        guard runningAction, brokenReason == nil else { return false }
        runningAction = false
        arrived = 0
        generation += 1
        return true
    }

    mutating func breakBarrier(_ reason: String) {
        guard brokenReason == nil else { return }
        brokenReason = reason
        brokenGenerations.insert(generation)
        arrived = 0
        runningAction = false
    }

    mutating func reset() {
        if brokenReason == nil, arrived > 0 || runningAction { brokenGenerations.insert(generation) }
        brokenReason = nil
        arrived = 0
        runningAction = false
        generation += 1
    }

    func brokenError() -> ThreadingError {
        ThreadingError(
            .brokenBarrier,
            message: "the barrier is broken (\(brokenReason ?? "it was reset while threads waited")); "
                + "call reset() before using it again"
        )
    }
}
