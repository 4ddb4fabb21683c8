import TriadCore

/// The chunked `map` and `mapUnordered` of executors that send jobs to other processes in chunks (the process pool,
/// the cluster): the plan, the sliding window of chunks, the progress per job, and the unordered stream's
/// flattening. The executor says how one chunk is submitted.
package enum ChunkedMap {
    /// Submits one chunk of jobs, with the map's per-job timeout and its progress tracker, and returns its handle.
    package typealias Submit<J: Job, Output: Sendable> =
        @Sendable (ArraySlice<J>, Duration?, ProgressTracker) throws(ExecutorError) -> JobHandle<Output>

    /// Runs `jobs` in chunks and returns their values in order; the first failure ends the map with its error.
    package static func ordered<J: Job>(
        _ jobs: [J],
        workers: Int,
        options: MapOptions,
        submit: @escaping Submit<J, [J.Output]>
    ) async throws -> [J.Output] {
        let plan = ChunkPlan(count: jobs.count, workers: workers, options: options, firstJob: jobs.first)
        let tracker = ProgressTracker(total: jobs.count, progress: options.progress)
        let caller = JobTracing.CallerContext()
        let chunks = try await SlidingWindowMap.ordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            try caller.run { () throws(ExecutorError) in
                try submit(jobs[plan.range(of: index)], options.timeout, tracker)
            }
        }
        var values: [J.Output] = []
        values.reserveCapacity(jobs.count)
        for chunk in chunks { values.append(contentsOf: chunk) }
        return values
    }

    /// Runs `jobs` in chunks and yields each job's outcome, tagged with its index, as its chunk completes. A
    /// failing job does not end the stream; ending the iteration cancels the chunks still in flight.
    package static func unordered<J: Job>(
        _ jobs: [J],
        workers: Int,
        options: MapOptions,
        submit: @escaping Submit<J, [Result<J.Output, any Error>]>
    ) -> AsyncStream<JobCompletion<J.Output>> {
        let plan = ChunkPlan(count: jobs.count, workers: workers, options: options, firstJob: jobs.first)
        let tracker = ProgressTracker(total: jobs.count, progress: options.progress)
        let caller = JobTracing.CallerContext()
        let chunks = SlidingWindowMap.unordered(count: plan.chunkCount, window: plan.window, progress: nil) {
            index throws(ExecutorError) in
            try caller.run { () throws(ExecutorError) in
                try submit(jobs[plan.range(of: index)], options.timeout, tracker)
            }
        }
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<J.Output>.self)
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
}
