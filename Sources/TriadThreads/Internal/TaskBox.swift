import Synchronization

/// The task of a running pool job, kept so a timeout or a cancellation on another thread can cancel it, even one
/// that arrives before the task is stored.
final class TaskBox: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var cancelRequested = false
    }

    private let state = Mutex(State())

    func set(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { state in
            state.task = task
            return state.cancelRequested
        }
        if cancelNow { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelRequested = true
            return state.task
        }
        task?.cancel()
    }
}
