import Synchronization
import TriadCore

extension ThreadPoolExecutor {
    /// Runs every job on the pool and returns their values in order.
    ///
    /// With no per-job timeout (none in `options` and no ``defaultTimeout``), the map starts a few runner tasks on
    /// the pool, `MapOptions.maxInFlight` of them or four per worker, and each runs job after job, taking the next
    /// one as it finishes the last. No job gets a task, a handle or a queue entry of its own, so a tiny job costs
    /// the pool tens of nanoseconds rather than microseconds, and the work balances itself however long the jobs
    /// take. A runner gives the pool's other work a turn every few dozen jobs. A job that times out must resolve at
    /// once while its thread runs on, so with a timeout each job is submitted as ``submit(_:options:)`` does.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - options: How many jobs run at once, each job's timeout once started, and a progress callback, called
    ///     after each job.
    /// - Returns: The values, in the order of `jobs`.
    /// - Throws: The first error a job throws, which stops the runners from starting more jobs and cancels the
    ///   jobs running; `ExecutorError.Code.cancelled` if the caller is cancelled; `ExecutorError.Code.shutDown` if
    ///   the pool shuts down before every job has started.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        let jobs = Array(jobs)
        guard options.timeout == nil, defaultTimeout == nil else {
            return try await SlidingWindowMap.ordered(jobs, on: self, options: options)
        }
        if jobs.isEmpty { return [] }
        let window = options.maxInFlight ?? SlidingWindowMap.defaultWindow(workers: workerCount)
        let runners = min(jobs.count, max(1, window))
        let run = ThreadMapRun(jobs, progress: options.progress)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                guard run.start(continuation) else { return }
                for _ in 0..<runners {
                    let handle: JobHandle<Void>
                    do {
                        handle = try submit(timeout: nil) { [core] in await run.runJobs(acceptingJobs: core) }
                    } catch {
                        run.finish(.failure(error))
                        return
                    }
                    // A runner cancelled before it started (a shutdown that cancels pending work) fails the map.
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
}

/// One thread-pool map: the jobs, one result slot per job, the index of the next job to start, and the caller
/// waiting for the values or the first error.
final class ThreadMapRun<J: Job>: @unchecked Sendable {
    // Unchecked because of `slots`: each slot is written once, by the runner that claimed its index, before that
    // runner counts the job done; the values are read only by whoever counts the last job, after its acquiring
    // count. Everything else is atomic or behind the lock.
    typealias Waiter = UnsafeContinuation<[J.Output], any Error>

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

    /// How many jobs a runner runs between turns it gives the pool's other work, and checks for a shutdown.
    static var jobsPerTurn: Int { 32 }

    init(_ jobs: [J], progress: (@Sendable (MapProgress) -> Void)?) {
        self.jobs = jobs
        self.progress = progress
        slots = .allocate(capacity: jobs.count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    /// Keeps the caller's continuation; `false` (having resumed it) if the map was cancelled before it began.
    func start(_ waiter: Waiter) -> Bool {
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
    func adopt(_ handle: JobHandle<Void>) {
        let over = outcome.withLock { outcome -> Bool in
            if outcome.finished { return true }
            outcome.runners.append(handle)
            return false
        }
        if over { handle.cancel() }
    }

    /// The body of one runner: claims and runs jobs until none are left or the map is over.
    func runJobs(acceptingJobs core: PoolCore) async {
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
                guard core.isAcceptingJobs else {
                    finish(.failure(ExecutorError.shutDown(jobName: J.jobName)))
                    return
                }
                await Task.yield()
            }
        }
    }

    /// Ends the map with `result` unless it has ended; a failure cancels the runners still working.
    func finish(_ result: Result<[J.Output], any Error>) {
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
