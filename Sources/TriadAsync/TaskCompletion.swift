import Logging
import Synchronization

/// The outcome of a loop task and the parties waiting for it.
final class TaskCompletion<Success: Sendable>: Sendable {
    private struct State {
        var result: Result<Success, any Error>?
        var retrieved = false
        var handleAlive = true
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: UnsafeContinuation<Result<Success, any Error>, Never>] = [:]
        var callbacks: [@Sendable (Result<Success, any Error>) -> Void] = []
    }

    private let state = Mutex(State())
    private let name: String
    private let logger: Logger

    init(name: String, logger: Logger) {
        self.name = name
        self.logger = logger
    }

    func peek() -> Result<Success, any Error>? {
        state.withLock { $0.result }
    }

    func finish(_ result: Result<Success, any Error>) {
        let (waiters, callbacks, report) = state.withLock { state in
            state.result = result
            let taken = (Array(state.waiters.values), state.callbacks)
            state.waiters = [:]
            state.callbacks = []
            return (taken.0, taken.1, !state.handleAlive && !state.retrieved)
        }
        for waiter in waiters { waiter.resume(returning: result) }
        for callback in callbacks { callback(result) }
        if report { reportIfFailed(result) }
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
            "task '\(name)' failed and nobody awaited it: \(error); await its value or attach whenDone",
            metadata: ["triad.task": .string(name)]
        )
    }

    func whenDone(_ callback: @escaping @Sendable (Result<Success, any Error>) -> Void) {
        let ready = state.withLock { state -> Result<Success, any Error>? in
            state.retrieved = true
            if let result = state.result { return result }
            state.callbacks.append(callback)
            return nil
        }
        if let ready { callback(ready) }
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
