import Synchronization

/// A count that a test waits on: the code under test adds to it as things happen (an operation started, a
/// callback ran), and the test awaits the number it needs instead of sleeping and hoping that they did.
public final class Tally: Sendable {
    private struct State {
        var count = 0
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    /// Makes a tally at zero.
    public init() {}

    /// The count now.
    public var count: Int { state.withLock { $0.count } }

    /// Adds `amount` and wakes every waiter whose number is reached.
    public func add(_ amount: Int = 1) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count += amount
            let count = state.count
            let ready = state.waiters.filter { $0.target <= count }.map(\.continuation)
            state.waiters.removeAll { $0.target <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Suspends until the count is at least `target`; returns at once if it already is.
    public func wait(untilAtLeast target: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let reached = state.withLock { state -> Bool in
                if state.count >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }
}
