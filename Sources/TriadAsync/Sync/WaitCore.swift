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

        /// Removes up to `count` waiters from the front.
        mutating func takeFirst(_ count: Int) -> [Waiter] {
            let count = min(count, waiters.count)
            guard count > 0 else { return [] }
            var woken: [Waiter] = []
            woken.reserveCapacity(count)
            for _ in 0..<count { woken.append(waiters.removeFirst()) }
            return woken
        }
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

    /// What a caller of ``wait(_:onCancel:whenRegistered:)`` does after looking at the state.
    enum Decision {
        /// Suspend until woken.
        case wait
        /// Go on at once, after waking this many waiters from the front (`Int.max` for all).
        case proceed(waking: Int)
    }

    /// Looks at the state with `decide` and either goes on at once or suspends until a ``wake(_:)`` hands this
    /// waiter its turn.
    ///
    /// `decide` runs under the lock, once or twice: first on a fast path, and again, if it said `.wait`, in the
    /// same lock section that registers the waiter, so that no wake-up can slip in between. It must change the
    /// state only when it decides to proceed, or guard its change against the second call.
    ///
    /// - Parameters:
    ///   - decide: Under the lock: whether to go on, given the state and the number waiting.
    ///   - onCancel: Under the lock, when a waiting caller is cancelled and leaves the queue.
    ///   - whenRegistered: Under the lock, once the waiter is in the queue (a condition releases its lock here).
    /// - Throws: `CancellationError` if the caller is cancelled while it waits (never after it was woken), or the
    ///   error of ``fail(_:_:)``.
    func wait(
        _ decide: (inout State, _ waiting: Int) -> Decision,
        onCancel: @escaping @Sendable (inout State) -> Void = { _ in },
        whenRegistered: () -> Void = {}
    ) async throws {
        var id: UInt64 = 0
        let fast = inner.withLock { inner -> [Waiter]? in
            if case .proceed(let count) = decide(&inner.state, inner.waiters.count) {
                return inner.takeFirst(count)
            }
            inner.nextID += 1
            id = inner.nextID
            return nil
        }
        if let fast {
            for waiter in fast { waiter.continuation.resume() }
            return
        }
        let waiterID = id
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = inner.withLock { inner -> (woken: [Waiter], proceed: Bool, cancelled: Bool) in
                    if case .proceed(let count) = decide(&inner.state, inner.waiters.count) {
                        return (inner.takeFirst(count), true, false)
                    }
                    if Task.isCancelled {
                        onCancel(&inner.state)
                        return ([], false, true)
                    }
                    inner.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    whenRegistered()
                    return ([], false, false)
                }
                for waiter in outcome.woken { waiter.continuation.resume() }
                if outcome.proceed { continuation.resume() }
                if outcome.cancelled { continuation.resume(throwing: CancellationError()) }
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
            inner.takeFirst(body(&inner.state, inner.waiters.count))
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
