import TriadCore
import TriadProcesses

/// Rank 0's state: the queue of messages, and what is in flight to each worker rank, in order. A value: it reads
/// no clock and sends nothing; the storage applies it under its lock and carries out what it returns.
struct ClusterState {
    /// A worker rank, as rank 0 sees it.
    struct Slot {
        let rank: Int
        var host: String = "an unknown host"
        /// The messages sent to the rank, oldest first; the rank runs them in this order.
        var inFlight: [PoolWork] = []
        /// When the first message in flight started, or last made progress: the base of its deadline.
        var headSince: UInt64 = 0
        var saidBye = false

        var origin: String { "rank \(rank) on host \(host)" }
    }

    /// A delivery or failure to carry out after the lock.
    struct Resolution {
        var sink: WorkSink
        var first: Int
        var count: Int
        var origin: String
    }

    let depth: Int
    let localPool: Bool
    let defaultTimeout: Duration?
    var queue = FIFO<PoolWork>()
    var slots: [Slot]
    var shuttingDown = false
    var stopsSent = false
    var finished = false

    init(worldSize: Int, depth: Int, localPool: Bool, defaultTimeout: Duration?) {
        self.depth = max(1, depth)
        self.localPool = localPool
        self.defaultTimeout = defaultTimeout
        slots = (1..<max(1, worldSize)).map { Slot(rank: $0) }
    }

    var inFlightCount: Int { slots.reduce(0) { $0 + $1.inFlight.count } }

    /// Whether every job has finished and nothing is queued.
    var isDrained: Bool { queue.isEmpty && slots.allSatisfy { $0.inFlight.isEmpty } }

    /// Sends queued messages to the ranks with room, the least loaded first. Returns the messages to send and the
    /// sinks of the messages that start at once (nothing ahead of them on their rank).
    mutating func dispatch(now: UInt64) -> (sends: [Outbound], started: [WorkSink]) {
        var sends: [Outbound] = []
        var started: [WorkSink] = []
        while !queue.isEmpty {
            var best: Int?
            for index in slots.indices where slots[index].inFlight.count < depth {
                if best == nil || slots[index].inFlight.count < slots[best!].inFlight.count { best = index }
            }
            guard let index = best, let work = queue.popFirst() else { break }
            if slots[index].inFlight.isEmpty {
                slots[index].headSince = now
                if let sink = work.sink { started.append(sink) }
            }
            // With a local pool the rank enforces the timeout itself, killing the job's worker process.
            let timeout = localPool ? work.limit(default: defaultTimeout) : nil
            sends.append(Outbound(rank: slots[index].rank, frames: work.message, timeout: timeout))
            slots[index].inFlight.append(work)
        }
        return (sends, started)
    }

    /// Records that `rank` answered `count` jobs of the message `sequence` from index `first` in it. Returns the
    /// sink to hand them to, unless the message was cancelled or timed out meanwhile, and the sink of the next
    /// message when this one finished and the next starts.
    mutating func answer(
        rank: Int,
        sequence: UInt64,
        first: Int,
        count: Int,
        now: UInt64
    ) -> (resolution: Resolution?, started: WorkSink?) {
        guard let index = slots.firstIndex(where: { $0.rank == rank }),
            let position = slots[index].inFlight.firstIndex(where: { $0.sequence == sequence })
        else { return (nil, nil) }
        var work = slots[index].inFlight[position]
        work.answered += count
        let resolution = work.isCancelled || work.sink == nil
            ? nil : Resolution(sink: work.sink!, first: work.offset + first, count: count, origin: slots[index].origin)
        var started: WorkSink?
        if work.answered >= work.itemCount {
            slots[index].inFlight.remove(at: position)
            if position == 0 {
                slots[index].headSince = now
                started = slots[index].inFlight.first.flatMap { $0.isCancelled ? nil : $0.sink }
            }
        } else {
            slots[index].inFlight[position] = work
            if position == 0 { slots[index].headSince = now }
        }
        return (resolution, started)
    }

    /// Cancels the message of `root`: a queued one leaves the queue; one in flight has its answers dropped, and
    /// with a local pool its rank is told to kill its worker. Returns the message to send to the rank, if any.
    mutating func cancel(root: UInt64) -> Outbound? {
        if queue.remove(firstWhere: { $0.root == root }) != nil { return nil }
        for index in slots.indices {
            guard let position = slots[index].inFlight.firstIndex(where: { $0.root == root }) else { continue }
            slots[index].inFlight[position].isCancelled = true
            guard localPool else { return nil }
            var bytes: [UInt8] = []
            withUnsafeBytes(of: slots[index].inFlight[position].sequence.littleEndian) { bytes.append(contentsOf: $0) }
            return Outbound(rank: slots[index].rank, tag: ClusterTag.cancel, bytes: bytes)
        }
        return nil
    }

    /// Fails the jobs that ran past their timeout: the rest of the first message in flight on each rank whose
    /// deadline has passed. The message stays in flight, its answers dropped, until its rank finishes it.
    mutating func expire(now: UInt64) -> [(Resolution, ExecutorError)] {
        var expired: [(Resolution, ExecutorError)] = []
        for index in slots.indices {
            guard let head = slots[index].inFlight.first, !head.isCancelled, let sink = head.sink,
                let limit = head.limit(default: defaultTimeout)
            else { continue }
            // With a local pool the rank kills the job and reports it; rank 0 waits longer before it gives up.
            let allowed = localPool ? limit + .seconds(30) : limit
            guard now >= allowed.deadline(after: slots[index].headSince) else { continue }
            slots[index].inFlight[0].isCancelled = true
            let slot = slots[index]
            let error = ExecutorError(
                .timedOut,
                jobName: head.jobName,
                message: "timed out after \(limit) on \(slot.origin); a rank cannot be killed without ending the "
                    + "run, so it finishes the job and drops its result (use a local pool to kill such jobs)"
            )
            expired.append(
                (
                    Resolution(
                        sink: sink, first: head.offset + head.answered, count: head.itemCount - head.answered,
                        origin: slot.origin
                    ), error
                )
            )
        }
        return expired
    }

    /// Takes every queued message out, for a shutdown that cancels them.
    mutating func drainQueue() -> [PoolWork] {
        queue.removeAll()
    }

    /// The stop messages to send once a shutdown has drained every rank; empty before, and after they went.
    mutating func stopsIfDrained() -> [Outbound] {
        guard shuttingDown, !stopsSent, isDrained else { return [] }
        stopsSent = true
        return slots.map { Outbound(rank: $0.rank, tag: ClusterTag.stop) }
    }

    /// What each rank is running, for the last words of a run that is being stopped.
    var inFlightReport: [String] {
        slots.compactMap { slot in
            guard let head = slot.inFlight.first else { return nil }
            return "\(slot.origin) was running job \(head.jobName)"
        }
    }
}
