import NIOCore
import Synchronization

/// The storage behind the async synchronization primitives: a state under a mutex and a FIFO of suspended
/// waiters. Nothing here blocks a thread: a waiter suspends, and whoever changes the state in its favour hands it
/// what it waited for (a permit, a flag) and resumes it. Handing over under the lock keeps the primitives fair
/// (first come, first served) and means a waiter never wakes to find its permit taken.
final class WaitCore<State: Sendable>: Sendable {
    struct Waiter {
        let id: UInt64
        let continuation: UnsafeContinuation<Void, any Error>
    }

    struct Inner {
        var state: State
        var waiters = CircularBuffer<Waiter>()
        var nextID: UInt64 = 0
    }

    private let inner: Mutex<Inner>

    init(_ state: State) {
        inner = Mutex(Inner(state: state))
    }

    /// Reads or changes the state without waking anyone.
    func withState<R>(_ body: (inout State) -> R) -> R {
        inner.withLock { body(&$0.state) }
    }

    /// The number of suspended waiters.
    var waiterCount: Int { inner.withLock { $0.waiters.count } }

    /// Returns at once if `proceed` says so (it may take what it needs from the state); otherwise suspends until
    /// a ``wake(_:)`` hands this waiter its turn.
    ///
    /// - Parameters:
    ///   - proceed: Under the lock: whether to go on without waiting. Not called again after a wake-up.
    ///   - onCancel: Under the lock, when a waiting caller is cancelled and leaves the queue.
    /// - Throws: `CancellationError` if the caller is cancelled while it waits (never after it was woken).
    func wait(
        proceedIf proceed: (inout State) -> Bool,
        onCancel: @escaping @Sendable (inout State) -> Void = { _ in }
    ) async throws {
        var id: UInt64 = 0
        let immediate = inner.withLock { inner -> Bool in
            if proceed(&inner.state) { return true }
            inner.nextID += 1
            id = inner.nextID
            return false
        }
        if immediate { return }
        let waiterID = id
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let cancelled = inner.withLock { inner -> Bool in
                    if Task.isCancelled {
                        onCancel(&inner.state)
                        return true
                    }
                    inner.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = inner.withLock { inner -> Waiter? in
                guard let index = inner.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
                onCancel(&inner.state)
                return inner.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Changes the state and wakes waiters from the front of the queue, as many as `body` returns (`Int.max` for
    /// all). `body` gets the number waiting and must apply, to the state, what it hands to those it wakes.
    func wake(_ body: (inout State, _ waiting: Int) -> Int) {
        let woken = inner.withLock { inner -> [Waiter] in
            let count = min(body(&inner.state, inner.waiters.count), inner.waiters.count)
            var woken: [Waiter] = []
            woken.reserveCapacity(count)
            for _ in 0..<count { woken.append(inner.waiters.removeFirst()) }
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Wakes every waiter with `error`, after `body` changes the state.
    func fail(_ error: any Error, _ body: (inout State) -> Void) {
        let woken = inner.withLock { inner -> CircularBuffer<Waiter> in
            body(&inner.state)
            let all = inner.waiters
            inner.waiters = CircularBuffer()
            return all
        }
        for waiter in woken { waiter.continuation.resume(throwing: error) }
    }
}
