import NIOCore
import Synchronization

/// One sleep's timer: a NIO scheduled callback with no promise or closure, the cheapest timer NIO offers. The
/// cancellation handler may run on any thread, before or after the timer is armed; the mutex sorts that out.
final class SleepTimer: NIOScheduledCallbackHandler, Sendable {
    private struct State {
        var continuation: UnsafeContinuation<Void, any Error>?
        var callback: NIOScheduledCallback?
        var cancelled = false
    }

    private let state = Mutex(State())

    /// Stores the continuation; returns `false` (having resumed it) if the sleep was already cancelled.
    func arm(_ continuation: UnsafeContinuation<Void, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// Records the scheduled callback, cancelling it at once if the sleep was cancelled meanwhile.
    func armed(_ callback: NIOScheduledCallback) {
        let cancelNow = state.withLock { state -> Bool in
            state.callback = callback
            return state.cancelled
        }
        if cancelNow { callback.cancel() }
    }

    /// Cancels the sleep. The continuation is resumed here, not from NIO's `didCancelScheduledCallback`: NIO
    /// calls that under its task lock, and resuming enqueues the task on the loop, which takes the same lock.
    func cancel() {
        let (callback, continuation) = state.withLock { state in
            state.cancelled = true
            defer { state.continuation = nil }
            return (state.callback, state.continuation)
        }
        callback?.cancel()
        continuation?.resume(throwing: CancellationError())
    }

    func finish(throwing error: (any Error)?) {
        let continuation = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            defer { state.continuation = nil }
            return state.continuation
        }
        if let error { continuation?.resume(throwing: error) } else { continuation?.resume() }
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        finish(throwing: nil)
    }

    func didCancelScheduledCallback(eventLoop: some EventLoop) {
        finish(throwing: CancellationError())
    }
}

/// One slot per child task of a gather. Each child writes only its own slot, once, and the parent reads them all
/// only after every child has finished, so no two threads ever touch the same memory at once.
final class ResultSlots<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    func store(_ value: T, at index: Int) {
        slots[index] = value
    }

    /// The values, once every slot is filled.
    func take() -> [T] {
        slots.map { $0! }
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
}
