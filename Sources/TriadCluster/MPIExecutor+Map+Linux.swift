#if MPI && os(Linux)
import TriadCore
import TriadProcesses

extension MPIExecutor {
    /// Runs every job on the worker ranks and returns their values in the order of `jobs`.
    ///
    /// Jobs travel in chunks, as in the process pool's `map`: by default a chunk holds
    /// `ceil(count / (4 × ranks))` jobs, `MapOptions.chunkSize` overrides that, and jobs that encode to a mebibyte
    /// or more travel one per message. Chunks are pipelined to the ranks through a sliding window of
    /// `MapOptions.maxInFlight` jobs. A rank answers a chunk in parts of about a millisecond, so progress is
    /// reported job by job. `MapOptions.timeout` applies to each job: it counts from the rank's last answer.
    ///
    /// - Throws: The first failing job's error, after which the chunks still queued are cancelled; an
    ///   `ExecutorError` for a shut-down executor or an unregistered job; `ExecutorError.Code.cancelled` when the
    ///   calling task is cancelled.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        let all = Array(jobs)
        let plan = ChunkPlan(count: all.count, workers: workerCount, options: options, firstJob: all.first)
        let tracker = ProgressTracker(total: all.count, progress: options.progress)
        let chunks = try await SlidingWindowMap.ordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            let handle: JobHandle<[S.Element.Output]> = try self.submitChunk(
                all[plan.range(of: index)], ordered: true, timeout: options.timeout, tracker: tracker
            )
            return handle
        }
        var values: [S.Element.Output] = []
        values.reserveCapacity(all.count)
        for chunk in chunks { values.append(contentsOf: chunk) }
        return values
    }

    /// Runs every job on the worker ranks and yields each outcome, tagged with its index, as its chunk's part
    /// comes back.
    ///
    /// Chunking works as in ``map(_:options:)``. A failing job does not end the stream. Stopping the iteration
    /// early cancels the chunks still queued.
    public func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
        let all = Array(jobs)
        let plan = ChunkPlan(count: all.count, workers: workerCount, options: options, firstJob: all.first)
        let tracker = ProgressTracker(total: all.count, progress: options.progress)
        let chunks = SlidingWindowMap.unordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            let handle: JobHandle<[Result<S.Element.Output, any Error>]> = try self.submitChunk(
                all[plan.range(of: index)], ordered: false, timeout: options.timeout, tracker: tracker
            )
            return handle
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

    /// Submits a chunk of jobs as one message: for the ordered map the handle carries the outputs in order (or
    /// the first failure), for the unordered one an outcome per job.
    private func submitChunk<J: Job, Output: Sendable>(
        _ jobs: ArraySlice<J>,
        ordered: Bool,
        timeout: Duration?,
        tracker: ProgressTracker
    ) throws(ExecutorError) -> JobHandle<Output> {
        let name = try registeredName(of: J.self)
        let chunk = MapChunk<J, Output>(
            jobs, named: name, ordered: ordered, timeout: timeout, tracker: tracker,
            registry: storage.registry, pool: storage.chunkConfiguration
        )
        try enqueue(chunk.work(sequence: storage.nextSequence()), handle: chunk.handle)
        return chunk.handle
    }
}
#endif
