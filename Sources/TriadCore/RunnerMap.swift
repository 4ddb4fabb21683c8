import Synchronization

/// A map run by a few runner tasks instead of a task per job: each runner takes the next job as it finishes the
/// last, so a job costs an atomic increment and a call, not a task, a handle and a queue entry, and the work
/// balances itself however long the jobs take.
///
/// An executor that runs jobs in its own process starts the runners as work of its own (so that its concurrency
/// limit and its shutdown count them) and says when they must stop. A per-job timeout needs a handle per job, which
/// resolves at once while the job runs on, so executors take this path only for maps without one.
package final class RunnerMap<J: Job>: @unchecked Sendable {
    // Unchecked because of `slots`: each slot is written once, by the runner that claimed its index, before that
    // runner counts the job done; the values are read only by whoever counts the last job, after its acquiring
    // count. Everything else is atomic or behind the lock.
    package typealias Waiter = UnsafeContinuation<[J.Output], any Error>

    private struct Outcome {
        var waiter: Waiter?
        var finished = false
        var early: (any Error)?
        var runners: [JobHandle<Void>] = []
    }

    private let jobs: [J]
    private let slots: UnsafeMutableBufferPointer<J.Output?>
    private let next = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let progress: (@Sendable (MapProgress) -> Void)?
    private let outcome = Mutex(Outcome())

    /// How many jobs a runner runs between the turns it gives the executor's other work, when it also asks whether
    /// it must stop.
    package static var jobsPerTurn: Int { 32 }

    private init(_ jobs: [J], progress: (@Sendable (MapProgress) -> Void)?) {
        self.jobs = jobs
        self.progress = progress
        slots = .allocate(capacity: jobs.count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    /// Runs `jobs` on `runners` runners and returns their values in order.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - runners: How many runners to start; at most one per job.
    ///   - progress: Called after each job.
    ///   - startRunner: Starts one runner as the executor's work: it must call ``runJobs(stopIf:)`` and return
    ///     the work's handle. A runner whose handle fails (cancelled before it started, say) fails the map.
    /// - Returns: The values, in the order of `jobs`.
    /// - Throws: The first error a job throws, which stops the runners from starting more jobs and cancels the
    ///   others' work; what `startRunner` or a runner's `stopIf` throws; `ExecutorError.Code.cancelled` if the
    ///   caller is cancelled.
    package static func run(
        _ jobs: [J],
        runners: Int,
        progress: (@Sendable (MapProgress) -> Void)?,
        startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) async throws -> [J.Output] {
        if jobs.isEmpty { return [] }
        let run = RunnerMap(jobs, progress: progress)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                guard run.start(continuation) else { return }
                for _ in 0..<min(jobs.count, max(1, runners)) {
                    let handle: JobHandle<Void>
                    do {
                        handle = try startRunner(run)
                    } catch {
                        run.finish(.failure(error))
                        return
                    }
                    handle.whenComplete { result in
                        if case .failure(let error) = result { run.finish(.failure(error)) }
                    }
                    run.adopt(handle)
                }
            }
        } onCancel: {
            run.finish(.failure(ExecutorError.cancelled(jobName: nil)))
        }
    }

    /// The body of one runner: claims and runs jobs until none are left or the map is over. Every
    /// ``jobsPerTurn`` jobs it asks `stopIf`, which returns the error to end the map with (such as a shutdown),
    /// and then yields.
    package func runJobs(stopIf: () -> (any Error)?) async {
        var untilTurn = Self.jobsPerTurn
        while !stopped.load(ordering: .relaxed) {
            let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < jobs.count else { return }
            if Task.isCancelled {
                finish(.failure(ExecutorError.cancelled(jobName: J.jobName)))
                return
            }
            do {
                slots[index] = try await jobs[index].run()
            } catch {
                finish(.failure(error))
                return
            }
            let completed = done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
            progress?(MapProgress(completed: completed, total: jobs.count))
            if completed == jobs.count {
                finish(.success(slots.map { $0! }))
                return
            }
            untilTurn -= 1
            if untilTurn == 0 {
                untilTurn = Self.jobsPerTurn
                if let error = stopIf() {
                    finish(.failure(error))
                    return
                }
                await Task.yield()
            }
        }
    }

    /// Keeps the caller's continuation; `false` (having resumed it) if the map was cancelled before it began.
    private func start(_ waiter: Waiter) -> Bool {
        let early = outcome.withLock { outcome -> (any Error)? in
            if let early = outcome.early { return early }
            outcome.waiter = waiter
            return nil
        }
        guard let early else { return true }
        waiter.resume(throwing: early)
        return false
    }

    /// Records a runner's handle, so that a failure can cancel it; cancels it at once if the map is over.
    private func adopt(_ handle: JobHandle<Void>) {
        let over = outcome.withLock { outcome -> Bool in
            if outcome.finished { return true }
            outcome.runners.append(handle)
            return false
        }
        if over { handle.cancel() }
    }

    /// Ends the map with `result` unless it has ended; a failure cancels the runners still working.
    private func finish(_ result: Result<[J.Output], any Error>) {
        stopped.store(true, ordering: .relaxed)
        let ended = outcome.withLock { outcome -> (Waiter?, [JobHandle<Void>])? in
            guard !outcome.finished else { return nil }
            outcome.finished = true
            defer { outcome.runners = [] }
            guard let waiter = outcome.waiter else {
                if case .failure(let error) = result { outcome.early = error }
                return (nil, outcome.runners)
            }
            return (waiter, outcome.runners)
        }
        guard let (waiter, runners) = ended else { return }
        if case .failure = result {
            for runner in runners { runner.cancel() }
        }
        waiter?.resume(with: result)
    }
}
