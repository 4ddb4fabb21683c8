/// A flag that threads and tasks wait on, like Python's `threading.Event`: ``set()`` raises it and wakes every
/// waiter, ``clear()`` lowers it, `wait()` returns once it is raised.
///
/// ```swift
/// let ready = Event()
/// let worker = Thread { ready.wait(); work() }   // blocks its own OS thread
/// try worker.start()
/// ready.set()
/// try await ready.wait(timeout: .seconds(1))      // async: suspends
/// ```
public final class Event: Sendable {
    private let storage = Guarded(false)

    /// Makes a lowered event.
    public init() {}

    /// Whether the flag is raised now.
    public var isSet: Bool { storage.withLock { $0 } }

    /// Raises the flag and wakes every waiter. Raising a raised flag is not an error.
    public func set() {
        storage.change { $0 = true }
    }

    /// Lowers the flag; later waits block until the next ``set()``. Lowering a lowered flag is not an error.
    public func clear() {
        storage.withLock { $0 = false }
    }

    /// Blocks the calling OS thread until the flag is raised. Returns at once if it is raised already.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `wait()` with `await`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait() {
        _ = storage.wait(until: nil, wakesOthers: false) { $0 ? () : nil }
    }

    /// Blocks the calling OS thread until the flag is raised or `timeout` passes.
    ///
    /// This blocks an OS thread; the async variant is `wait(timeout:)` with `await`.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if the flag was still lowered at the
    ///   timeout. (Python returns `False` there.)
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait(timeout: Duration) throws(ThreadingError) {
        guard storage.wait(until: .after(timeout), wakesOthers: false, { $0 ? () : nil }) != nil else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "an event to be set")
        }
    }

    /// Suspends the calling task until the flag is raised. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the task is cancelled first.
    public func wait() async throws(ThreadingError) {
        try await waitAsync(timeout: nil)
    }

    /// Suspends the calling task until the flag is raised or `timeout` passes. Never blocks a thread.
    ///
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``.
    public func wait(timeout: Duration) async throws(ThreadingError) {
        try await waitAsync(timeout: timeout)
    }

    private func waitAsync(timeout: Duration?) async throws(ThreadingError) {
        switch await storage.waitAsync(until: .after(timeout), wakesOthers: false, { $0 ? () : nil }) {
        case .value: return
        case .timedOut: throw ThreadingError.timedOut(after: timeout, waitingFor: "an event to be set")
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "an event to be set")
        }
    }
}
