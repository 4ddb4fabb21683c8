import CTriadShims

/// A re-entrant lock with an owner, like Python's `threading.RLock`: the thread that holds it may acquire it again,
/// and must release it as many times.
///
/// Ownership belongs to an OS thread, so `RLock` is for code running on OS threads (``Thread``, pool workers). It has
/// no async variant, because a task may move between threads across a suspension point; in async code use
/// ``Lock``.
///
/// Releasing an `RLock` that the calling thread does not hold is a programmer error and stops the program with a
/// precondition failure (Python raises `RuntimeError`), the one policy for misuse across Triad's locks.
public final class RLock: Sendable {
    struct State {
        var owner: Int32 = 0
        var depth = 0
    }

    private let storage = Guarded(State())

    /// Makes an unlocked re-entrant lock.
    public init() {}

    /// Blocks the calling OS thread until the lock is free or already its own, then takes it (once more).
    ///
    /// This blocks an OS thread: do not call it from async code.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire() {
        let me = triad_thread_id()
        _ = storage.wait(until: nil, wakesOthers: false) { Self.take(&$0, for: me, depth: 1) }
    }

    /// Blocks the calling OS thread until the lock can be taken or `timeout` passes.
    ///
    /// This blocks an OS thread: do not call it from async code.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if another thread still held it.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func acquire(timeout: Duration) throws(ThreadingError) {
        let me = triad_thread_id()
        guard storage.wait(until: .after(timeout), wakesOthers: false, { Self.take(&$0, for: me, depth: 1) }) != nil
        else { throw ThreadingError.timedOut(after: timeout, waitingFor: "a re-entrant lock") }
    }

    /// Takes the lock if it is free or already the caller's, without waiting. Returns whether it did.
    public func tryAcquire() -> Bool {
        let me = triad_thread_id()
        return storage.withLock { Self.take(&$0, for: me, depth: 1) } != nil
    }

    /// Releases one level of the lock; the last release frees it for other threads.
    ///
    /// - Precondition: The calling thread holds the lock.
    public func release() {
        let me = triad_thread_id()
        let misuse = storage.change { (state: inout State) -> String? in
            guard state.owner == me, state.depth > 0 else { return Self.notOwner(state) }
            state.depth -= 1
            if state.depth == 0 { state.owner = 0 }
            return nil
        }
        if let misuse { preconditionFailure(misuse) }
    }

    /// Whether the calling thread holds the lock.
    public var isOwnedByCurrentThread: Bool {
        let me = triad_thread_id()
        return storage.withLock { $0.owner == me && $0.depth > 0 }
    }

    /// How many times the calling thread holds the lock; 0 if it does not.
    public var recursionDepth: Int {
        let me = triad_thread_id()
        return storage.withLock { $0.owner == me ? $0.depth : 0 }
    }

    /// Takes the lock, runs `body`, and releases it, also when `body` throws. Blocks an OS thread.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        acquire()
        defer { release() }
        return try body()
    }

    // MARK: - For Condition

    /// Releases every level the caller holds and returns how many, so a condition wait can restore them.
    func releaseAll() -> Int {
        let me = triad_thread_id()
        let released = storage.change { (state: inout State) -> Result<Int, Misuse> in
            guard state.owner == me, state.depth > 0 else { return .failure(Misuse(message: Self.notOwner(state))) }
            defer { state = State() }
            return .success(state.depth)
        }
        switch released {
        case .success(let depth): return depth
        case .failure(let misuse): preconditionFailure(misuse.message)
        }
    }

    private struct Misuse: Error {
        var message: String
    }

    /// Takes the lock back with the depth `releaseAll` returned.
    func acquire(restoring depth: Int) {
        let me = triad_thread_id()
        _ = storage.wait(until: nil, wakesOthers: false) { Self.take(&$0, for: me, depth: depth) }
    }

    private static func take(_ state: inout State, for me: Int32, depth: Int) -> Void? {
        if state.depth == 0 {
            state.owner = me
            state.depth = depth
            return ()
        }
        if state.owner == me {
            state.depth += depth
            return ()
        }
        return nil
    }

    private static func notOwner(_ state: State) -> String {
        let holder = state.depth == 0 ? "nobody holds it" : "thread \(state.owner) holds it"
        return "thread \(triad_thread_id()) released a re-entrant lock it does not hold (\(holder)); "
            + "release it on the thread that acquired it"
    }
}
