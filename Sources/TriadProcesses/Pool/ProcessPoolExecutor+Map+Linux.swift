#if os(Linux)
import CoreMetrics
import Synchronization
import TriadCore

extension ProcessPoolExecutor {
    /// Runs every job in worker processes and returns their values in the order of `jobs`.
    ///
    /// Jobs travel in chunks, one message per chunk, like Python's `Pool.map`: by default a chunk holds
    /// `ceil(count / (4 × workers))` jobs, and `MapOptions.chunkSize` overrides that. Jobs that encode to a
    /// mebibyte or more (judged by the first) travel one per message instead, one per worker at a time, so large
    /// payloads do not pile up in shared memory. Chunks are pipelined to the workers through a sliding window of
    /// `MapOptions.maxInFlight` jobs. `MapOptions.timeout` applies to each job on its own: a job that runs past
    /// it fails alone, and the other jobs of its chunk run again elsewhere. A job that crashes its worker fails
    /// alone too, counting ``ProcessPoolConfiguration/crashRetries`` for itself. Progress is reported after each
    /// job, as the worker sends results in parts of about a millisecond.
    ///
    /// - Throws: The first failing job's error, after which the chunks still in flight are cancelled; an
    ///   `ExecutorError` for a shut-down pool or an unregistered job; `ExecutorError.Code.cancelled` when the
    ///   calling task is cancelled.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        try await ChunkedMap.ordered(Array(jobs), workers: workerCount, options: options) {
            chunk, timeout, tracker throws(ExecutorError) in
            try self.submitOrderedChunk(chunk, timeout: timeout, tracker: tracker)
        }
    }

    /// Runs every job in worker processes and yields each outcome, tagged with its index, as its chunk completes.
    ///
    /// Chunking works as in ``map(_:options:)``. A failing job does not end the stream. Stopping the iteration
    /// early cancels the chunks still in flight.
    public func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
        ChunkedMap.unordered(Array(jobs), workers: workerCount, options: options) {
            chunk, timeout, tracker throws(ExecutorError) in
            try self.submitChunk(chunk, timeout: timeout, tracker: tracker)
        }
    }

    /// Submits a chunk of jobs as one message, for the ordered map: the handle carries the outputs in order, or
    /// fails with the first failing job's error. Outputs stay unwrapped, which keeps the common path free of
    /// `Result`s.
    func submitOrderedChunk<J: Job>(
        _ jobs: ArraySlice<J>,
        timeout: Duration?,
        tracker: ProgressTracker
    ) throws(ExecutorError) -> JobHandle<[J.Output]> {
        let name = try registeredName(of: J.self)
        let chunk = MapChunk<J, [J.Output]>(
            jobs, named: name, ordered: true, timeout: timeout, tracker: tracker,
            registry: storage.registry, pool: storage.configuration, metrics: storage.metrics
        )
        try enqueue(chunk.work(sequence: storage.nextSequence()), handle: chunk.handle)
        return chunk.handle
    }

    /// Submits a chunk of jobs as one message, for the unordered map: the handle carries one outcome per job.
    func submitChunk<J: Job>(
        _ jobs: ArraySlice<J>,
        timeout: Duration?,
        tracker: ProgressTracker
    ) throws(ExecutorError) -> JobHandle<[Result<J.Output, any Error>]> {
        let name = try registeredName(of: J.self)
        let chunk = MapChunk<J, [Result<J.Output, any Error>]>(
            jobs, named: name, ordered: false, timeout: timeout, tracker: tracker,
            registry: storage.registry, pool: storage.configuration, metrics: storage.metrics
        )
        try enqueue(chunk.work(sequence: storage.nextSequence()), handle: chunk.handle)
        return chunk.handle
    }
}

/// One chunk of a map: its jobs, and what of them has come back; the sink of the chunk's messages. A chunk travels
/// as one message, answered in parts as its jobs run; after a crash inside it, the jobs not answered travel again
/// as smaller messages with the same encoded jobs (see `PoolWork.pieces`), and every message's answers land here,
/// by each job's index in the chunk.
///
/// `Output` is `[J.Output]` for the ordered map, which fails at the first failing job, and
/// `[Result<J.Output, any Error>]` for the unordered one, which carries every job's outcome.
package final class MapChunk<J: Job, Output: Sendable>: PoolOwnJobSink {
    package let jobs: ArraySlice<J>
    package let name: String
    package let handle: JobHandle<Output>
    package let timeout: Duration?
    private let ordered: Bool
    private let timed: Bool
    private let registry: JobRegistry
    private let maxFrameSize: Int
    private let tracker: ProgressTracker
    /// Where the jobs' outcomes are counted, if the pool reports metrics.
    private let metrics: PoolMetrics?
    private let assembly = Mutex(Assembly())

    private struct Assembly {
        /// The outputs (ordered map) or outcomes (unordered) of the jobs `0..<count`, answered in order.
        var outputs: [J.Output] = []
        var results: [Result<J.Output, any Error>] = []
        /// Outcomes that came back ahead of a job before them, by index: only after a crash split the chunk.
        var ahead: [Int: Result<J.Output, any Error>] = [:]
        var finished = false
    }

    package init(
        _ jobs: ArraySlice<J>,
        named name: String,
        ordered: Bool,
        timeout: Duration?,
        tracker: ProgressTracker,
        registry: JobRegistry,
        pool configuration: ProcessPoolConfiguration,
        metrics: PoolMetrics? = nil
    ) {
        precondition(
            ordered ? Output.self == [J.Output].self : Output.self == [Result<J.Output, any Error>].self,
            "a map chunk's output is the array of its jobs' outputs or of their results"
        )
        self.jobs = jobs
        self.name = name
        self.ordered = ordered
        self.timeout = timeout
        self.tracker = tracker
        handle = JobHandle(jobName: name)
        self.registry = registry
        self.metrics = metrics
        maxFrameSize = configuration.maxFrameSize
        timed = timeout != nil || configuration.defaultTimeout != nil
    }

    /// The message of the whole chunk, whose sequence number is its root: its jobs are encoded here, once.
    package func work(sequence: UInt64) throws(ExecutorError) -> PoolWork {
        let data = try JobMessages.chunkData(jobs, named: name, maxFrameSize: maxFrameSize)
        let context = JobTracing.begin(jobName: name, jobs: jobs.count, handle: handle)
        return .chunk(
            sequence: sequence,
            root: sequence,
            jobName: name,
            data: data,
            first: 0,
            count: jobs.count,
            timed: timed,
            context: context,
            timeout: timeout,
            sink: self
        )
    }

    package func markRunning() { _ = handle.markRunning() }

    /// Takes the answer to the chunk's jobs from `first` on: a part of a message, one outcome item.
    package func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        guard let item = items.first else { return false }
        switch JobMessages.outcome(item, of: J.Output.self, count: count, jobName: name, registry: registry) {
        case .success(let outcome): return record(outcome, from: first, count: count)
        case .failure(let error): return fail(error, jobs: first..<(first + count))
        }
    }

    /// A chunk's jobs never travel in a batch of single jobs: the pool batches only single jobs.
    package func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        preconditionFailure("a map's chunk travelled in a batch of single jobs")
    }

    /// Places the outcome of the jobs `start..<start + count`; returns whether the chunk ended early, its other
    /// jobs no longer needed.
    private func record(_ outcome: WireBatchOutcome<J.Output>, from start: Int, count: Int) -> Bool {
        let total = jobs.count
        let (done, failure) = assembly.withLock { assembly -> (Output?, (any Error)?) in
            guard !assembly.finished else { return (nil, nil) }
            if let metrics { countOutcomes(outcome, in: metrics) }
            // The common case: the next jobs in order, without a failure, need no `Result` each.
            if ordered && outcome.failures.isEmpty && start == assembly.outputs.count && assembly.ahead.isEmpty {
                if assembly.outputs.isEmpty {
                    assembly.outputs = outcome.outputs
                } else {
                    assembly.outputs.append(contentsOf: outcome.outputs)
                }
            } else {
                var firstFailure: (any Error)?
                outcome.forEach(count: count, jobName: name, registry: registry) { index, output in
                    place(.success(output), at: start + index, in: &assembly)
                } failure: { index, error in
                    if firstFailure == nil { firstFailure = error }
                    place(.failure(error), at: start + index, in: &assembly)
                }
                if ordered, let firstFailure {
                    assembly.finished = true
                    return (nil, firstFailure)
                }
            }
            return (finish(&assembly, total: total), nil)
        }
        tracker.add(count)
        if let failure { _ = handle.fail(failure) }
        if let done { _ = handle.succeed(done) }
        return failure != nil && start + count < total
    }

    /// Fails the chunk's jobs `range` alone: the ordered map ends with the error, the unordered one carries it
    /// for those jobs. Returns whether the chunk ended early, its other jobs no longer needed.
    package func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        let total = jobs.count
        let (done, ended) = assembly.withLock { assembly -> (Output?, Bool) in
            guard !assembly.finished else { return (nil, false) }
            metrics?.failed(name, error, count: range.count)
            if ordered {
                assembly.finished = true
                return (nil, true)
            }
            for index in range { place(.failure(error), at: index, in: &assembly) }
            return (finish(&assembly, total: total), false)
        }
        tracker.add(range.count)
        if ordered { _ = handle.fail(error) }
        if let done { _ = handle.succeed(done) }
        return ended
    }

    /// Counts the jobs of a part: those that produced an output, and those that failed, by code.
    private func countOutcomes(_ outcome: WireBatchOutcome<J.Output>, in metrics: PoolMetrics) {
        metrics.job(name).completed.increment(by: outcome.outputs.count)
        guard !outcome.failures.isEmpty else { return }
        var codes: [String: Int] = [:]
        for failure in outcome.failures { codes[JobMessages.failureCode(failure.error), default: 0] += 1 }
        for (code, count) in codes { metrics.failed(name, code: code, count: count) }
    }

    private func place(_ result: Result<J.Output, any Error>, at index: Int, in assembly: inout Assembly) {
        let next = ordered ? assembly.outputs.count : assembly.results.count
        guard index == next else {
            assembly.ahead[index] = result
            return
        }
        append(result, to: &assembly)
        while let waiting = assembly.ahead.removeValue(forKey: ordered ? assembly.outputs.count : assembly.results.count) {
            append(waiting, to: &assembly)
        }
    }

    private func append(_ result: Result<J.Output, any Error>, to assembly: inout Assembly) {
        if ordered {
            // A failure ends the ordered map before its place comes; only outputs reach here.
            if case .success(let output) = result { assembly.outputs.append(output) }
        } else {
            assembly.results.append(result)
        }
    }

    /// The handle's value once every job has come back.
    private func finish(_ assembly: inout Assembly, total: Int) -> Output? {
        let count = ordered ? assembly.outputs.count : assembly.results.count
        guard count == total else { return nil }
        assembly.finished = true
        // The initializer checked that `Output` is this very type; a checked cast would visit every element.
        return ordered ? unsafeBitCast(assembly.outputs, to: Output.self) : unsafeBitCast(assembly.results, to: Output.self)
    }
}

/// How a map is cut into chunks.
package struct ChunkPlan: Sendable {
    package let count: Int
    package let chunkSize: Int
    package let window: Int

    /// Jobs that encode to at least this many bytes travel one per message, one per worker at a time.
    package static let largeJobBytes = 1 << 20

    package init<J: Job>(count: Int, workers: Int, options: MapOptions, firstJob: J?) {
        // The first job's size stands for the others': encoding it borrows its large arrays, so it costs little.
        let firstJobBytes = firstJob.flatMap {
            try? WireEncoder().encoded($0, borrowingFrom: OutgoingMessage.borrowMinimum).count
        }
        self.init(count: count, workers: workers, options: options, jobBytes: firstJobBytes ?? 0)
    }

    package init(count: Int, workers: Int, options: MapOptions, jobBytes: Int) {
        self.count = count
        let workers = max(1, workers)
        let large = jobBytes >= Self.largeJobBytes
        // Python's Pool.map heuristic: about four chunks per worker. Large jobs go one by one, one per worker in
        // flight: a shared lane starts again from its beginning once every payload in it has been read, so with
        // one payload at a time each lane stays the size of one payload instead of growing to hold the whole map.
        let automatic = large ? 1 : max(1, (count + 4 * workers - 1) / (4 * workers))
        chunkSize = max(1, options.chunkSize ?? automatic)
        let defaultJobsInFlight = large ? workers : SlidingWindowMap.defaultWindow(workers: workers) * chunkSize
        let jobsInFlight = options.maxInFlight ?? max(defaultJobsInFlight, 1)
        window = max(1, jobsInFlight / chunkSize)
    }

    package var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    package func range(of chunk: Int) -> Range<Int> {
        chunk * chunkSize..<min(count, (chunk + 1) * chunkSize)
    }
}

/// Counts finished jobs across chunks and reports progress per job.
package final class ProgressTracker: Sendable {
    private let completed = Atomic<Int>(0)
    private let total: Int
    private let progress: (@Sendable (MapProgress) -> Void)?

    package init(total: Int, progress: (@Sendable (MapProgress) -> Void)?) {
        self.total = total
        self.progress = progress
    }

    /// Counts `count` finished jobs, reporting progress once per job.
    package func add(_ count: Int) {
        guard let progress else {
            completed.add(count, ordering: .relaxed)
            return
        }
        for _ in 0..<count {
            progress(MapProgress(completed: completed.add(1, ordering: .relaxed).newValue, total: total))
        }
    }
}
#endif
