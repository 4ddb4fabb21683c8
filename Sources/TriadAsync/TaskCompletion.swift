import Logging
import Synchronization

/// The outcome of a loop task or a loop future, and the parties waiting for it.
final class TaskCompletion<Success: Sendable>: Sendable {
    typealias Callback = @Sendable (Result<Success, any Error>) -> Void

    private struct State {
        var result: Result<Success, any Error>?
        var retrieved = false
        var handleAlive = true
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: UnsafeContinuation<Result<Success, any Error>, Never>] = [:]
        /// The first callback, kept apart so that the usual single callback (such as a gather's) allocates no
        /// array.
        var firstCallback: Callback?
        var moreCallbacks: [Callback] = []
    }

    private let state = Mutex(State())
    let name: String
    /// What the unretrieved-error report calls the owner: "task" or "future".
    private let kind: String
    private let logger: Logger

    init(name: String, kind: String = "task", logger: Logger) {
        self.name = name
        self.kind = kind
        self.logger = logger
    }

    func peek() -> Result<Success, any Error>? {
        state.withLock { $0.result }
    }

    /// Records the outcome, wakes the waiters and runs the callbacks on the calling thread. An outcome is recorded
    /// once: a later call changes nothing and returns `false`.
    @discardableResult
    func finish(_ result: Result<Success, any Error>) -> Bool {
        typealias Waiter = UnsafeContinuation<Result<Success, any Error>, Never>
        let taken = state.withLock { state -> (waiters: [Waiter], first: Callback?, more: [Callback], report: Bool)? in
            guard state.result == nil else { return nil }
            state.result = result
            defer {
                state.waiters = [:]
                state.firstCallback = nil
                state.moreCallbacks = []
            }
            let waiters = state.waiters.isEmpty ? [] : Array(state.waiters.values)
            return (waiters, state.firstCallback, state.moreCallbacks, !state.handleAlive && !state.retrieved)
        }
        guard let taken else { return false }
        for waiter in taken.waiters { waiter.resume(returning: result) }
        taken.first?(result)
        for callback in taken.more { callback(result) }
        if taken.report { reportIfFailed(result) }
        return true
    }

    func handleDropped() {
        let unretrieved = state.withLock { state -> Result<Success, any Error>? in
            state.handleAlive = false
            return state.retrieved ? nil : state.result
        }
        if let unretrieved { reportIfFailed(unretrieved) }
    }

    private func reportIfFailed(_ result: Result<Success, any Error>) {
        guard case .failure(let error) = result, !isCancellation(error) else { return }
        logger.error(
            "\(kind) '\(name)' failed and nobody awaited it: \(error); await its value or attach whenDone",
            metadata: ["triad.\(kind)": .string(name)]
        )
    }

    func whenDone(_ callback: @escaping Callback) {
        let ready = state.withLock { state -> Result<Success, any Error>? in
            state.retrieved = true
            if let result = state.result { return result }
            if state.firstCallback == nil {
                state.firstCallback = callback
            } else {
                state.moreCallbacks.append(callback)
            }
            return nil
        }
        if let ready { callback(ready) }
    }

    /// Waits for the outcome; cancelling the waiter runs `cancelProducer`, which cancels what settles the outcome (a
    /// loop task, a future), so that the wait ends with that cancellation: asyncio's rule for awaiting a task or a
    /// future.
    func wait(cancelling cancelProducer: @escaping @Sendable () -> Void) async -> Result<Success, any Error> {
        await withTaskCancellationHandler {
            await wait(cancellable: false)
        } onCancel: {
            cancelProducer()
        }
    }

    /// Waits for the outcome. With `cancellable`, cancelling the waiter stops only the wait, which then returns a
    /// `CancellationError`; the task itself goes on (this is what `shield` needs).
    func wait(cancellable: Bool) async -> Result<Success, any Error> {
        let id = state.withLock { state -> UInt64 in
            state.retrieved = true
            state.nextWaiter += 1
            return state.nextWaiter
        }
        if let ready = peek() { return ready }
        guard cancellable else {
            return await withUnsafeContinuation { continuation in
                let ready = state.withLock { state -> Result<Success, any Error>? in
                    if let result = state.result { return result }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let ready = state.withLock { state -> Result<Success, any Error>? in
                    if let result = state.result { return result }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: .failure(CancellationError()))
        }
    }
}

/// Whether an error means "cancelled" rather than "failed".
func isCancellation(_ error: any Error) -> Bool {
    error is CancellationError
}
