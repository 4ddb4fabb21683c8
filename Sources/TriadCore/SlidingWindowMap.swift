import Synchronization

/// Drives a map over an executor: keeps at most `window` jobs in flight, submits the next job from the completion
/// of the previous one, and reports progress. Nothing here blocks a thread; completions arrive on whatever thread
/// resolves a handle.
package enum SlidingWindowMap {
    /// The window an executor gets when the caller names none: a few jobs per worker keep workers busy while the
    /// next job travels to them.
    package static func defaultWindow(workers: Int) -> Int { max(1, workers) * 4 }

    /// Runs `jobs` and returns their values in order; the first failure cancels the rest and is thrown.
    package static func ordered<E: Executor, J: Job>(
        _ jobs: [J],
        on executor: E,
        options: MapOptions
    ) async throws -> [J.Output] {
        try await ordered(
            count: jobs.count,
            window: options.maxInFlight ?? defaultWindow(workers: executor.workerCount),
            progress: options.progress
        ) { index throws(ExecutorError) in
            try executor.submit(jobs[index], options: JobOptions(timeout: options.timeout))
        }
    }

    /// Streams the outcome of each of `jobs` as it completes.
    package static func unordered<E: Executor, J: Job>(
        _ jobs: [J],
        on executor: E,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<J.Output>> {
        unordered(
            count: jobs.count,
            window: options.maxInFlight ?? defaultWindow(workers: executor.workerCount),
            progress: options.progress
        ) { index throws(ExecutorError) in
            try executor.submit(jobs[index], options: JobOptions(timeout: options.timeout))
        }
    }

    /// The ordered map over any submit function, for executors that submit differently (for example in chunks).
    package static func ordered<Output: Sendable>(
        count: Int,
        window: Int,
        progress: (@Sendable (MapProgress) -> Void)?,
        submit: @escaping @Sendable (Int) throws(ExecutorError) -> JobHandle<Output>
    ) async throws -> [Output] {
        if count == 0 { return [] }
        let driver = Driver<Output>(count: count, window: window, progress: progress, submit: submit)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                driver.start(ordered: continuation)
            }
        } onCancel: {
            driver.abort(ExecutorError.cancelled(jobName: nil))
        }
    }

    /// The unordered map over any submit function.
    package static func unordered<Output: Sendable>(
        count: Int,
        window: Int,
        progress: (@Sendable (MapProgress) -> Void)?,
        submit: @escaping @Sendable (Int) throws(ExecutorError) -> JobHandle<Output>
    ) -> AsyncStream<JobCompletion<Output>> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<Output>.self)
        if count == 0 {
            continuation.finish()
            return stream
        }
        let driver = Driver<Output>(count: count, window: window, progress: progress, submit: submit)
        continuation.onTermination = { _ in driver.abort(ExecutorError.cancelled(jobName: nil)) }
        driver.start(unordered: continuation)
        return stream
    }

    private final class Driver<Output: Sendable>: Sendable {
        private struct State {
            var next = 0
            var inFlight: [Int: JobHandle<Output>] = [:]
            /// Jobs taken from the sequence and not yet completed; counts a job before its handle exists.
            var active = 0
            var completed = 0
            var values: [Output?]
            var finished = false
            var ordered: UnsafeContinuation<[Output], any Error>?
            var unordered: AsyncStream<JobCompletion<Output>>.Continuation?
        }

        private let count: Int
        private let window: Int
        private let progress: (@Sendable (MapProgress) -> Void)?
        private let submit: @Sendable (Int) throws(ExecutorError) -> JobHandle<Output>
        private let state: Mutex<State>
        private let yielded = Atomic<Int>(0)

        init(
            count: Int,
            window: Int,
            progress: (@Sendable (MapProgress) -> Void)?,
            submit: @escaping @Sendable (Int) throws(ExecutorError) -> JobHandle<Output>
        ) {
            self.count = count
            self.window = max(1, window)
            self.progress = progress
            self.submit = submit
            self.state = Mutex(State(values: []))
        }

        func start(ordered continuation: UnsafeContinuation<[Output], any Error>) {
            let alreadyAborted = state.withLock { state in
                // The task may have been cancelled before the continuation existed.
                guard !state.finished else { return true }
                state.ordered = continuation
                state.values = Array(repeating: nil, count: count)
                return false
            }
            if alreadyAborted {
                continuation.resume(throwing: ExecutorError.cancelled(jobName: nil))
                return
            }
            pump()
        }

        func start(unordered continuation: AsyncStream<JobCompletion<Output>>.Continuation) {
            state.withLock { $0.unordered = continuation }
            pump()
        }

        /// Submits jobs until the window is full or none are left.
        private func pump() {
            while true {
                let index: Int? = state.withLock { state in
                    guard !state.finished, state.next < count, state.active < window else { return nil }
                    state.active += 1
                    defer { state.next += 1 }
                    return state.next
                }
                guard let index else { return }
                let handle: JobHandle<Output>
                do {
                    handle = try submit(index)
                } catch {
                    complete(index, .failure(error))
                    continue
                }
                let live = state.withLock { state in
                    guard !state.finished else { return false }
                    state.inFlight[index] = handle
                    return true
                }
                guard live else {
                    handle.cancel()
                    return
                }
                handle.whenComplete { [self] result in
                    complete(index, result)
                    pump()
                }
            }
        }

        private enum Action {
            case none
            case report(MapProgress)
            case yield(JobCompletion<Output>, MapProgress)
            case succeed([Output], MapProgress)
            case fail(any Error, [JobHandle<Output>], MapProgress)
        }

        private func complete(_ index: Int, _ result: Result<Output, any Error>) {
            let (action, ordered, unordered) = state.withLock { state -> (Action, UnsafeContinuation<[Output], any Error>?, AsyncStream<JobCompletion<Output>>.Continuation?) in
                guard !state.finished else { return (.none, nil, nil) }
                state.inFlight[index] = nil
                state.active -= 1
                state.completed += 1
                let report = MapProgress(completed: state.completed, total: count)
                if let unordered = state.unordered {
                    if state.completed == count { state.finished = true }
                    return (.yield(JobCompletion(index: index, result: result), report), nil, unordered)
                }
                switch result {
                case .success(let value):
                    state.values[index] = value
                    guard state.completed == count else { return (.report(report), nil, nil) }
                    state.finished = true
                    return (.succeed(state.values.map { $0! }, report), state.ordered, nil)
                case .failure(let error):
                    state.finished = true
                    let rest = Array(state.inFlight.values)
                    state.inFlight = [:]
                    return (.fail(error, rest, report), state.ordered, nil)
                }
            }
            switch action {
            case .none:
                return
            case .report(let report):
                progress?(report)
            case .yield(let completion, let report):
                progress?(report)
                unordered?.yield(completion)
                // The stream finishes after the last yield, not after the last completion: otherwise a finish on
                // one thread could overtake another thread's yield and lose that outcome.
                if yielded.add(1, ordering: .acquiringAndReleasing).newValue == count { unordered?.finish() }
            case .succeed(let values, let report):
                progress?(report)
                ordered?.resume(returning: values)
            case .fail(let error, let rest, let report):
                progress?(report)
                for handle in rest { handle.cancel() }
                ordered?.resume(throwing: error)
            }
        }

        /// Stops submitting, cancels what is in flight and ends the call with `error`.
        func abort(_ error: ExecutorError) {
            let (rest, ordered, unordered) = state.withLock { state -> ([JobHandle<Output>], UnsafeContinuation<[Output], any Error>?, AsyncStream<JobCompletion<Output>>.Continuation?) in
                guard !state.finished else { return ([], nil, nil) }
                state.finished = true
                defer { state.inFlight = [:] }
                return (Array(state.inFlight.values), state.ordered, state.unordered)
            }
            for handle in rest { handle.cancel() }
            ordered?.resume(throwing: error)
            unordered?.finish()
        }
    }
}
