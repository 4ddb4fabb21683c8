import TriadCore

// Quick jobs of one kind travel to a worker in batches (see `PoolWork.batch`): a burst of tiny submissions then costs
// one frame, one decoding and one answer per batch instead of per job, on both sides of the socket.
//
// The pool batches only jobs without a timeout, whose worker has been taking microseconds per job. A batch that
// fails as a whole, because its worker crashed, was killed or could not decode it, is taken apart and its jobs run
// again alone, so a crash or a bad payload still fails exactly one job. Cancelling a job of a running batch kills
// the worker as it would for a job running alone; the other jobs of the batch run again.

/// When the pool sends jobs to a worker ahead of the one it runs.
enum PipelineTuning {
    /// Jobs that take less than this, on average, on a worker are sent ahead; slower or unknown ones one at a time.
    static let quickJobNanos: Double = 1_000_000
    /// About how much work, in nanoseconds, a worker is sent ahead of the job it runs.
    static let aheadNanos: Double = 2_000_000
}

/// The bounds of batching.
enum BatchTuning {
    /// Jobs that take less than this, on average, on a worker may travel to it in batches.
    static let quickJobNanos: Double = 100_000
    /// The most jobs in one batch.
    static let batchLimit = 128
    /// About how long a batch should take, in nanoseconds, so a batch never holds its first result back long.
    static let batchNanos: Double = 1_000_000
}

extension PoolState {
    /// Joins `first` with the jobs of its kind queued right behind it, up to `limit` jobs, when the worker `index`
    /// has been taking microseconds per job; otherwise returns `first`. Only jobs without a timeout and with a small
    /// payload join, and none while the pool has a default timeout or its configuration turns batches off.
    mutating func batched(_ first: consuming PoolWork, for index: Int, limit: Int) -> PoolWork {
        let average = slots[index].averageJobNanos
        guard batchesQuickJobs, defaultTimeout == nil, average > 0, average < batchQuickJobNanos,
            first.batchablePayloadCount != nil, let firstSink = first.sink
        else { return consume first }
        var limit = min(limit, BatchTuning.batchLimit, max(2, Int(BatchTuning.batchNanos / max(average, 1))))
        if let maxJobs = maxJobsPerWorker { limit = min(limit, maxJobs - slots[index].jobsSent) }
        guard limit > 1 else { return consume first }
        // Jobs of one kind have sinks of one type, which decodes the batch's outcome for all of them.
        let kind = ObjectIdentifier(type(of: firstSink.object))
        // Reserved whole: growing would move every member already in (a work is large) at each doubling.
        var members: [PoolWork] = []
        members.reserveCapacity(limit)
        members.append(consume first)
        while members.count < limit {
            dropCancelledAtFront()
            let joins = queue.withFirst { next in
                guard next.batchablePayloadCount != nil, let sink = next.sink else { return false }
                return ObjectIdentifier(type(of: sink.object)) == kind
            }
            guard joins == true, let next = queue.popFirst() else { break }
            members.append(consume next)
        }
        guard members.count > 1 else { return members.removeLast() }
        batchesSent += 1
        return .batch(members)
    }
}
