import Logging
import Synchronization
import TriadCore

/// The outcome of a loop task or a loop future, and the parties waiting for it.
final class TaskCompletion<Success: Sendable>: Sendable {
    typealias Callback = @Sendable (Result<Success, any Error>) -> Void

    private struct State {
        /// The outcome, and the waiters and callbacks that hear of it.
        var promise = Promise<Result<Success, any Error>>()
        var retrieved = false
        var handleAlive = true
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
        state.withLock { $0.promise.outcome }
    }

    /// Records the outcome, wakes the waiters and runs the callbacks on the calling thread. An outcome is recorded
    /// once: a later call changes nothing and returns `false`.
    @discardableResult
    func finish(_ result: Result<Success, any Error>) -> Bool {
        let taken = state.withLock { state -> (wakeups: Promise<Result<Success, any Error>>.Wakeups, report: Bool)? in
            guard let wakeups = state.promise.resolve(result) else { return nil }
            return (wakeups, !state.handleAlive && !state.retrieved)
        }
        guard let taken else { return false }
        taken.wakeups.run()
        if taken.report { reportIfFailed(result) }
        return true
    }

    func handleDropped() {
        let unretrieved = state.withLock { state -> Result<Success, any Error>? in
            state.handleAlive = false
            return state.retrieved ? nil : state.promise.outcome
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
            return state.promise.addCallback(callback)
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
            return state.promise.nextWaiterID()
        }
        if let ready = peek() { return ready }
        guard cancellable else {
            return await withUnsafeContinuation { continuation in
                let ready = state.withLock { $0.promise.addWaiter(continuation, id: id) }
                if let ready { continuation.resume(returning: ready) }
            }
        }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let ready = state.withLock { state -> Result<Success, any Error>? in
                    if let result = state.promise.outcome { return result }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    return state.promise.addWaiter(continuation, id: id)
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.promise.removeWaiter(id) }
            waiter?.resume(returning: .failure(CancellationError()))
        }
    }
}

/// Whether an error means "cancelled" rather than "failed".
func isCancellation(_ error: any Error) -> Bool {
    error is CancellationError
}
