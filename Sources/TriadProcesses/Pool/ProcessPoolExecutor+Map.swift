#if os(Linux)
import Synchronization
import TriadCore

extension ProcessPoolExecutor {
    /// Runs every job in worker processes and returns their values in the order of `jobs`.
    ///
    /// Jobs travel in chunks, one message per chunk, like Python's `Pool.map`: by default a chunk holds
    /// `ceil(count / (4 × workers))` jobs, and ``MapOptions/chunkSize`` overrides that. Jobs that encode to a
    /// mebibyte or more (judged by the first) travel one per message instead, one per worker at a time, so large
    /// payloads do not pile up in shared memory. Chunks are pipelined to the workers through a sliding window of
    /// ``MapOptions/maxInFlight`` jobs. ``MapOptions/timeout`` applies to each job, so a chunk may run for its size
    /// times the timeout. Progress is reported per job.
    ///
    /// - Throws: The first failing job's error, after which the chunks still in flight are cancelled; an
    ///   ``ExecutorError`` for a shut-down pool or an unregistered job; ``ExecutorError/Code/cancelled`` when the
    ///   calling task is cancelled.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        let all = Array(jobs)
        let plan = ChunkPlan(count: all.count, workers: workerCount, options: options, firstJob: all.first)
        let tracker = ProgressTracker(total: all.count, progress: options.progress)
        let chunks = try await SlidingWindowMap.ordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            try self.submitOrderedChunk(all[plan.range(of: index)], timeout: options.timeout, tracker: tracker)
        }
        var values: [S.Element.Output] = []
        values.reserveCapacity(all.count)
        for chunk in chunks { values.append(contentsOf: chunk) }
        return values
    }

    /// Runs every job in worker processes and yields each outcome, tagged with its index, as its chunk completes.
    ///
    /// Chunking works as in ``map(_:options:)``. A failing job does not end the stream. Stopping the iteration
    /// early cancels the chunks still in flight.
    public func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
        let all = Array(jobs)
        let plan = ChunkPlan(count: all.count, workers: workerCount, options: options, firstJob: all.first)
        let tracker = ProgressTracker(total: all.count, progress: options.progress)
        let chunks = SlidingWindowMap.unordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            try self.submitChunk(all[plan.range(of: index)], timeout: options.timeout, tracker: tracker)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<S.Element.Output>.self)
        let forwarder = Task {
            for await chunk in chunks {
                let range = plan.range(of: chunk.index)
                switch chunk.result {
                case .success(let items):
                    for (offset, item) in items.enumerated() {
                        continuation.yield(JobCompletion(index: range.lowerBound + offset, result: item))
                    }
                case .failure(let error):
                    for index in range { continuation.yield(JobCompletion(index: index, result: .failure(error))) }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in forwarder.cancel() }
        return stream
    }

    /// Submits a chunk of jobs as one message, for the ordered map: the handle carries the outputs in order, or
    /// fails with the first job's error. Outputs stay unwrapped, which keeps the common path free of `Result`s.
    func submitOrderedChunk<J: Job>(
        _ jobs: ArraySlice<J>,
        timeout: Duration?,
        tracker: ProgressTracker
    ) throws(ExecutorError) -> JobHandle<[J.Output]> {
        let name = try registeredName(of: J.self)
        let handle = JobHandle<[J.Output]>(jobName: name)
        let registry = storage.registry
        let count = jobs.count
        return try enqueueMapChunk(jobs, named: name, for: handle, timeout: timeout) { items in
            tracker.add(count)
            guard let item = items.first else { return }
            switch PoolEntry.decode(item, as: WireBatchOutcome<J.Output>.self, jobName: name, registry: registry) {
            case .success(let outcome):
                if let failure = outcome.failures.first {
                    handle.fail(registry.error(from: failure.error, jobName: name))
                } else if outcome.outputs.count == count {
                    handle.succeed(outcome.outputs)
                } else {
                    handle.fail(
                        ExecutorError(
                            .protocolViolation,
                            jobName: name,
                            message: "the worker answered a chunk of \(count) jobs with "
                                + "\(outcome.outputs.count) outputs"
                        )
                    )
                }
            case .failure(let error):
                handle.fail(error)
            }
        } fail: { error in
            tracker.add(count)
            handle.fail(error)
        }
    }

    /// Submits a chunk of jobs as one message, for the unordered map: the handle carries one outcome per job.
    func submitChunk<J: Job>(
        _ jobs: ArraySlice<J>,
        timeout: Duration?,
        tracker: ProgressTracker
    ) throws(ExecutorError) -> JobHandle<[Result<J.Output, any Error>]> {
        let name = try registeredName(of: J.self)
        let handle = JobHandle<[Result<J.Output, any Error>]>(jobName: name)
        let registry = storage.registry
        let count = jobs.count
        return try enqueueMapChunk(jobs, named: name, for: handle, timeout: timeout) { items in
            let results: [Result<J.Output, any Error>]
            let decoded = items.first.map {
                PoolEntry.decode($0, as: WireBatchOutcome<J.Output>.self, jobName: name, registry: registry)
            }
            switch decoded {
            case .success(let outcome)?:
                results = outcome.results(count: count, jobName: name, registry: registry)
            case .failure(let error)?:
                results = Array(repeating: .failure(error), count: count)
            case nil:
                results = []
            }
            tracker.add(count)
            handle.succeed(results)
        } fail: { error in
            tracker.add(count)
            handle.fail(error)
        }
    }
}

extension ProcessPoolExecutor {
    /// Queues a chunk of jobs as one batch message whose answer `deliver` turns into `handle`'s outcome.
    private func enqueueMapChunk<J: Job, Output: Sendable>(
        _ jobs: ArraySlice<J>,
        named name: String,
        for handle: JobHandle<Output>,
        timeout: Duration?,
        deliver: @escaping @Sendable ([Frame]) -> Void,
        fail: @escaping @Sendable (any Error) -> Void
    ) throws(ExecutorError) -> JobHandle<Output> {
        let sequence = storage.nextSequence()
        let encoded = try PoolEntry.encodedChunk(
            for: jobs,
            named: name,
            sequence: sequence,
            maxFrameSize: storage.configuration.maxFrameSize
        )
        let entry = ChunkEntry(
            handle: handle,
            sequence: sequence,
            message: encoded.message,
            itemCount: jobs.count,
            timeout: timeout,
            deliver: deliver,
            fail: fail
        )
        return try enqueue(entry)
    }
}

/// How a map is cut into chunks.
struct ChunkPlan: Sendable {
    let count: Int
    let chunkSize: Int
    let window: Int

    /// Jobs that encode to at least this many bytes travel one per message, one per worker at a time.
    static let largeJobBytes = 1 << 20

    init<J: Job>(count: Int, workers: Int, options: MapOptions, firstJob: J?) {
        // The first job's size stands for the others': encoding it borrows its large arrays, so it costs little.
        let firstJobBytes = firstJob.flatMap {
            try? WireEncoder().encoded($0, borrowingFrom: OutgoingMessage.borrowMinimum).count
        }
        self.init(count: count, workers: workers, options: options, jobBytes: firstJobBytes ?? 0)
    }

    init(count: Int, workers: Int, options: MapOptions, jobBytes: Int) {
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

    var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    func range(of chunk: Int) -> Range<Int> {
        chunk * chunkSize..<min(count, (chunk + 1) * chunkSize)
    }
}

/// Counts finished jobs across chunks and reports progress per job.
final class ProgressTracker: Sendable {
    private let completed = Atomic<Int>(0)
    private let total: Int
    private let progress: (@Sendable (MapProgress) -> Void)?

    init(total: Int, progress: (@Sendable (MapProgress) -> Void)?) {
        self.total = total
        self.progress = progress
    }

    func add(_ count: Int) {
        let now = completed.add(count, ordering: .relaxed).newValue
        progress?(MapProgress(completed: now, total: total))
    }
}
#endif
