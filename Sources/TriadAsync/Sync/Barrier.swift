/// A barrier for a fixed number of tasks: the analogue of `asyncio.Barrier`.
///
/// Each party calls ``wait()``; all of them suspend until the last one arrives, then all go on and the barrier
/// resets for the next round. A party cancelled while waiting, or ``abort()``, breaks the barrier: the other
/// waiters, and later callers, throw ``AsyncLoopError/Code/brokenBarrier`` until ``reset()``.
public final class AsyncBarrier: Sendable {
    private struct State {
        let parties: Int
        var arrived = 0
        var generation = 0
        var broken = false
    }

    private let core: WaitCore<State>

    /// Makes a barrier.
    ///
    /// - Parameter parties: The number of tasks that must arrive; at least 1.
    public init(parties: Int) {
        precondition(parties >= 1, "a barrier needs at least one party")
        core = WaitCore(State(parties: parties))
    }

    /// The number of parties the barrier waits for.
    public var parties: Int { core.withState { $0.parties } }

    /// The number of parties waiting now.
    public var waiting: Int { core.withState { $0.arrived } }

    /// Whether the barrier is broken.
    public var isBroken: Bool { core.withState { $0.broken } }

    /// Arrives at the barrier and waits for the others.
    ///
    /// - Returns: The order of arrival in this round, from 0 to `parties - 1`, like asyncio's.
    /// - Throws: ``AsyncLoopError/Code/brokenBarrier`` if the barrier is or becomes broken; `CancellationError`
    ///   if the caller is cancelled while waiting (which breaks the barrier for the others).
    public func wait() async throws -> Int {
        // `decide` may run twice (see WaitCore.wait); the first call arrives, a second one only rechecks.
        var hasArrived = false
        var generation = 0
        var index = 0
        var broken = false
        do {
            try await core.wait { state, _ in
                if hasArrived {
                    return state.generation != generation ? .proceed(waking: 0) : .wait
                }
                hasArrived = true
                if state.broken {
                    broken = true
                    return .proceed(waking: 0)
                }
                generation = state.generation
                index = state.arrived
                state.arrived += 1
                guard state.arrived == state.parties else { return .wait }
                state.arrived = 0
                state.generation += 1
                return .proceed(waking: Int.max)
            } onCancel: { state in
                state.broken = true
            }
        } catch is CancellationError {
            core.fail(Self.brokenError) { $0.broken = true }
            throw CancellationError()
        }
        if broken { throw Self.brokenError }
        return index
    }

    /// Breaks the barrier: current and later waiters throw ``AsyncLoopError/Code/brokenBarrier``.
    public func abort() {
        core.fail(Self.brokenError) { $0.broken = true }
    }

    /// Mends the barrier for a new round; current waiters throw ``AsyncLoopError/Code/brokenBarrier``.
    public func reset() {
        core.fail(Self.brokenError) { state in
            state.arrived = 0
            state.broken = false
        }
    }

    private static let brokenError = AsyncLoopError(
        .brokenBarrier,
        message: "the barrier is broken: a party was cancelled or abort() was called; call reset() to reuse it"
    )
}
