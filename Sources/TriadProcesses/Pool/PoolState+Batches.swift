import TriadCore

// Quick jobs of one kind travel to a worker in batches (see `BatchEntry`): a burst of tiny submissions then costs
// one frame, one decoding and one answer per batch instead of per job, on both sides of the socket.

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
    /// Joins `first` with the jobs of its kind queued right behind it, up to `limit` jobs, when `slot`'s worker has
    /// been taking microseconds per job; otherwise returns `first`. Only jobs without a timeout and with a small
    /// payload join, and none while the pool has a default timeout or its configuration turns batches off.
    mutating func batched(_ first: PoolEntry, for slot: WorkerSlot<Worker>, limit: Int) -> PoolEntry {
        let average = slot.averageJobNanos
        guard batchesQuickJobs, defaultTimeout == nil, average > 0, average < BatchTuning.quickJobNanos,
            first.batchablePayload != nil
        else { return first }
        var limit = min(limit, BatchTuning.batchLimit, max(2, Int(BatchTuning.batchNanos / max(average, 1))))
        if let maxJobs = maxJobsPerWorker { limit = min(limit, maxJobs - slot.jobsSent) }
        guard limit > 1 else { return first }
        let kind = ObjectIdentifier(type(of: first))
        var entries = [first]
        while entries.count < limit, let next = queue.first, ObjectIdentifier(type(of: next)) == kind,
            next.batchablePayload != nil
        {
            _ = queue.popFirst()
            if !next.isFinished() { entries.append(next) }
        }
        guard entries.count > 1 else { return first }
        batchesSent += 1
        return BatchEntry(entries)
    }
}
