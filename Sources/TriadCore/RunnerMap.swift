import CoreMetrics
import Synchronization

/// A map run by a few runner tasks instead of a task per job: each runner takes the next job as it finishes the
/// last, so a job costs an atomic increment and a call, not a task, a handle and a queue entry, and the work
/// balances itself however long the jobs take.
///
/// An executor that runs jobs in its own process starts the runners as work of its own (so that its concurrency
/// limit and its shutdown count them) and says when they must stop. A per-job timeout needs a handle per job, which
/// resolves at once while the job runs on, so executors take this path only for maps without one.
package final class RunnerMap<J: Job>: @unchecked Sendable {
    // Unchecked for `claims`: each slot is written once, by the runner that claimed its index, before that
    // runner counts the job done; the values are read only by whoever counts the last job, after its acquiring
    // count. Everything else is atomic or behind the lock.
    package typealias Waiter = UnsafeContinuation<[J.Output], any Error>

    private struct Outcome {
        var waiter: Waiter?
        var finished = false
        var early: (any Error)?
        var runners: [JobHandle<Void>] = []
    }

    /// The jobs, claimed one at a time, and the ordered map's value slots.
    private let claims: SlotBuffer<J, J.Output>
    /// Where the unordered map's outcomes go; `nil` for the ordered map, whose values go into `claims`.
    private let stream: AsyncStream<JobCompletion<J.Output>>.Continuation?
    private let done = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let progress: (@Sendable (MapProgress) -> Void)?
    private let outcome = Mutex(Outcome())
    /// Where each job is counted, completed or failed by code, if the executor reports metrics: the runners are
    /// the executor's work, the jobs are what its users count.
    private let metrics: ExecutorMetrics?
    private let jobMetrics: ExecutorMetrics.JobMetrics?

    /// How many jobs a runner runs between the turns it gives the executor's other work, when it also asks whether
    /// it must stop.
    package static var jobsPerTurn: Int { 32 }

    private init(
        _ jobs: [J],
        progress: (@Sendable (MapProgress) -> Void)?,
        stream: AsyncStream<JobCompletion<J.Output>>.Continuation?,
        metrics: ExecutorMetrics?
    ) {
        self.claims = SlotBuffer(jobs, storesValues: stream == nil)
        self.progress = progress
        self.stream = stream
        self.metrics = metrics
        jobMetrics = metrics?.job(J.jobName)
        jobMetrics?.submitted.increment(by: jobs.count)
    }

    /// Runs `jobs` on `runners` runners and returns their values in order.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - runners: How many runners to start; at most one per job.
    ///   - progress: Called after each job.
    ///   - metrics: Where each job is counted, if the executor reports metrics.
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
        metrics: ExecutorMetrics? = nil,
        startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) async throws -> [J.Output] {
        if jobs.isEmpty { return [] }
        let run = RunnerMap(jobs, progress: progress, stream: nil, metrics: metrics)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                guard run.start(continuation) else { return }
                run.startRunners(runners, startRunner)
            }
        } onCancel: {
            run.finish(.failure(ExecutorError.cancelled(jobName: nil)))
        }
    }

    /// Runs `jobs` on `runners` runners and yields each outcome as it completes, tagged with its index.
    ///
    /// A failing job does not end the stream: its outcome carries the error, and the runners go on. If the
    /// executor stops the map (a runner's `stopIf`, a runner cancelled before it started, a runner that cannot
    /// start), every job not yet started yields that error, so each job yields exactly once. Ending the iteration
    /// early cancels the runners.
    ///
    /// - Parameters: As ``run(_:runners:progress:metrics:startRunner:)``.
    /// - Returns: The outcomes in completion order.
    package static func stream(
        _ jobs: [J],
        runners: Int,
        progress: (@Sendable (MapProgress) -> Void)?,
        metrics: ExecutorMetrics? = nil,
        startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) -> AsyncStream<JobCompletion<J.Output>> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<J.Output>.self)
        if jobs.isEmpty {
            continuation.finish()
            return stream
        }
        let run = RunnerMap(jobs, progress: progress, stream: continuation, metrics: metrics)
        continuation.onTermination = { _ in run.finish(.failure(ExecutorError.cancelled(jobName: nil))) }
        run.startRunners(runners, startRunner)
        return stream
    }

    /// Starts the runners; one that fails to start, or whose work fails, stops the map.
    private func startRunners(
        _ runners: Int,
        _ startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) {
        for _ in 0..<min(claims.count, max(1, runners)) {
            let handle: JobHandle<Void>
            do {
                handle = try startRunner(self)
            } catch {
                abandon(error)
                return
            }
            handle.whenComplete { [self] result in
                if case .failure(let error) = result { abandon(error) }
            }
            adopt(handle)
        }
    }

    /// The body of one runner: claims and runs jobs until none are left or the map is over. Every
    /// ``jobsPerTurn`` jobs it asks `stopIf`, which returns the error to end the map with (such as a shutdown),
    /// and then yields.
    package func runJobs(stopIf: () -> (any Error)?) async {
        var untilTurn = Self.jobsPerTurn
        while !stopped.load(ordering: .relaxed) {
            guard let (index, job) = claims.claim() else { return }
            if Task.isCancelled {
                abandon(ExecutorError.cancelled(jobName: J.jobName), claimed: index)
                return
            }
            // No `Result` on the way: in this generic code, building one costs a metadata lookup per job.
            let more: Bool
            do {
                let value = try await job.run()
                jobMetrics?.completed.increment()
                if let stream {
                    stream.yield(JobCompletion(index: index, result: .success(value)))
                } else {
                    claims.store(value, at: index)
                }
                more = count(index)
            } catch {
                more = fail(error, at: index)
            }
            guard more else { return }
            untilTurn -= 1
            if untilTurn == 0 {
                untilTurn = Self.jobsPerTurn
                if let error = stopIf() {
                    abandon(error)
                    return
                }
                await Task.yield()
            }
        }
    }

    /// Counts a job done; `false` once it was the last, which ends the map.
    private func count(_ index: Int) -> Bool {
        let completed = done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        progress?(MapProgress(completed: completed, total: claims.count))
        guard completed == claims.count else { return true }
        finish(.success(stream == nil ? claims.take() : []))
        return false
    }

    /// A job failed: the ordered map ends with its error; the unordered one yields it and goes on. Returns whether
    /// the runner goes on.
    private func fail(_ error: any Error, at index: Int) -> Bool {
        metrics?.failed(J.jobName, error)
        guard let stream else {
            finish(.failure(error))
            return false
        }
        stream.yield(JobCompletion(index: index, result: .failure(error)))
        return count(index)
    }

    /// Stops the map with `error`: the ordered map throws it; the unordered one yields it for the job the runner
    /// had claimed (if any) and for every job not yet started, so that each job yields once.
    private func abandon(_ error: any Error, claimed: Int? = nil) {
        guard stream != nil else {
            if claimed != nil { metrics?.failed(J.jobName, error) }
            finish(.failure(error))
            return
        }
        if let claimed { _ = fail(error, at: claimed) }
        while let (index, _) = claims.claim() {
            _ = fail(error, at: index)
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

    /// Ends the map with `result` unless it has ended; a failure cancels the runners still working. The unordered
    /// map ends its stream (its result carries no values; a failure means the stream was ended early).
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
            // The jobs no runner took will never run: with metrics, each counts as failed with the map's own
            // code (`shutDown`, say), or as cancelled when a job's error ended the map.
            if let metrics, case .failure(let error) = result {
                var left = 0
                while claims.claim() != nil { left += 1 }
                let code = (error as? ExecutorError)?.code ?? .cancelled
                metrics.failed(J.jobName, code: code.rawValue, count: left)
            }
        }
        if let stream {
            stream.finish()
        } else {
            waiter?.resume(with: result)
        }
    }
}

extension RunnerMap {
    /// The ordered map of an executor that runs maps on runners: per-job submission through the sliding window when
    /// a job has a timeout (`timed`), runners otherwise.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - executor: The executor, for the sliding window.
    ///   - options: The map's options.
    ///   - timed: Whether a timeout applies to each job (from `options` or the executor's default).
    ///   - runners: The runners to start when `options` names no `maxInFlight`.
    ///   - metrics: Where each job is counted, if the executor reports metrics.
    ///   - startRunner: Starts one runner as the executor's work.
    package static func map<E: Executor>(
        _ jobs: [J],
        on executor: E,
        options: MapOptions,
        timed: Bool,
        runners: Int,
        metrics: ExecutorMetrics? = nil,
        startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) async throws -> [J.Output] {
        if timed { return try await SlidingWindowMap.ordered(jobs, on: executor, options: options) }
        return try await run(
            jobs,
            runners: options.maxInFlight ?? runners,
            progress: options.progress,
            metrics: metrics,
            startRunner: startRunner
        )
    }

    /// The unordered map of an executor that runs maps on runners; the parameters are those of
    /// ``map(_:on:options:timed:runners:metrics:startRunner:)``.
    package static func mapUnordered<E: Executor>(
        _ jobs: [J],
        on executor: E,
        options: MapOptions,
        timed: Bool,
        runners: Int,
        metrics: ExecutorMetrics? = nil,
        startRunner: (RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void>
    ) -> AsyncStream<JobCompletion<J.Output>> {
        if timed { return SlidingWindowMap.unordered(jobs, on: executor, options: options) }
        return stream(
            jobs,
            runners: options.maxInFlight ?? runners,
            progress: options.progress,
            metrics: metrics,
            startRunner: startRunner
        )
    }
}
