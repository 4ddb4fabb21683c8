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
        try await ChunkedMap.ordered(Array(jobs), workers: workerCount, options: options) {
            chunk, timeout, tracker throws(ExecutorError) in
            try self.submitChunk(chunk, ordered: true, timeout: timeout, tracker: tracker)
        }
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
        ChunkedMap.unordered(Array(jobs), workers: workerCount, options: options) {
            chunk, timeout, tracker throws(ExecutorError) in
            try self.submitChunk(chunk, ordered: false, timeout: timeout, tracker: tracker)
        }
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
            registry: storage.registry, pool: storage.chunkConfiguration, metrics: storage.metrics
        )
        try enqueue(chunk.work(sequence: storage.nextSequence()), handle: chunk.handle)
        return chunk.handle
    }
}
#endif
