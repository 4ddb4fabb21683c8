import TriadCore

/// Why the pool killed a worker; decides what happens to the job it was running.
enum KillReason: Sendable {
    case cancelled
    case timedOut(Duration)
    case memory(limit: Int, resident: Int)
    case initializerFailed(RemoteJobError)
    case protocolViolation(String)
    case terminated

    /// A few words for the pool's log.
    var summary: String {
        switch self {
        case .cancelled: "its job was cancelled"
        case .timedOut(let limit): "its job ran past its timeout of \(limit)"
        case .memory(let limit, let resident): "it used \(resident) bytes, over the limit of \(limit)"
        case .initializerFailed: "its initializer failed"
        case .protocolViolation: "protocol violation"
        case .terminated: "the pool was terminated"
        }
    }
}

/// What the state machine needs of a worker: who it is. The pool's workers are `WorkerProcess`es; the state's
/// tests drive it with stand-ins, no process at all.
protocol PoolWorker: AnyObject, Sendable {
    var id: Int { get }
    var pid: Int32 { get }
}

/// One started worker, as the pool's state knows it.
struct PoolSlot<Worker: PoolWorker>: Sendable {
    /// Where the worker is in its life. One value, so that no two contradicting facts can hold at once.
    enum Phase: Sendable {
        /// Running the pool's initializer, before its first job.
        case initializing
        /// Taking jobs.
        case ready
        /// Taking no more jobs, having had its ``ProcessPoolConfiguration/maxJobsPerWorker``; it is closed once
        /// its jobs in flight are answered.
        case retiring
        /// Asked to exit once it has written everything: it has nothing in flight and gets nothing more.
        case closing
        /// Killed by the pool for `reason`, blaming the job `blame` when it was killed for one job. With a
        /// `deadline`, a SIGKILL follows the signal sent (a SIGTERM) then.
        case killing(KillReason, blame: StartedJob?, deadline: UInt64?)
    }

    let worker: Worker
    var phase: Phase
    /// Messages sent to the worker and not answered yet, in order; the first is the one running.
    var inFlight = FIFO<PoolWork>()
    /// When the first message in flight started, as far as the pool can tell: when it was sent to an idle worker,
    /// or when the result before it arrived.
    var headStart: UInt64 = 0
    var jobsSent = 0
    /// An average of how long a message takes, in nanoseconds, to choose how many to send ahead.
    var averageNanos: Double = 0
    /// An average of how long one job takes, in nanoseconds, to choose whether to send quick jobs in batches.
    var averageJobNanos: Double = 0
    var lastActivity: UInt64
    /// Jobs cancelled while in flight but not running yet (their message's sequence and their index there): the
    /// worker is killed if one of them starts before its result comes back, so a cancelled job never runs long.
    var cancelledAhead: [(sequence: UInt64, ordinal: Int)] = []

    init(worker: Worker, phase: Phase, lastActivity: UInt64) {
        self.worker = worker
        self.phase = phase
        self.lastActivity = lastActivity
    }

    var isReady: Bool {
        if case .ready = phase { return true }
        return false
    }

    /// Whether it counts towards the pool's workers: not on its way out.
    var isLive: Bool {
        switch phase {
        case .initializing, .ready: return true
        case .retiring, .closing, .killing: return false
        }
    }

    var isLeaving: Bool {
        switch phase {
        case .retiring, .closing: return true
        case .initializing, .ready, .killing: return false
        }
    }

    var killReason: KillReason? {
        if case .killing(let reason, _, _) = phase { return reason }
        return nil
    }

    var isKilled: Bool { killReason != nil }
}

/// Something an operator may want to know, for the storage to log after the lock. Values only, so the state's
/// tests can check them.
enum PoolEvent: Sendable, Equatable {
    /// A worker process ended. `job` is the job it was blamed for, if any; `reason` is why the pool killed it,
    /// nil if it ended on its own; `crashed` tells whether it counts as a crash.
    case workerEnded(pid: Int32, exit: WorkerExit, reason: String?, job: String?, crashed: Bool)
    /// A replacement worker starts only after `delay`, after `crashes` crashes in a row.
    case respawnDelayed(delay: Duration, crashes: Int)
    /// The pool began to shut down with jobs still to finish.
    case draining(queued: Int, inFlight: Int, cancelPending: Bool)
}

/// What a state change asks for, in the order the storage carries it out after it releases the lock: signals,
/// sends, closes, wakes and spawns first, then handles (marked running, resolved, failed), then shutdown waiters.
struct PoolActions<Worker: PoolWorker> {
    /// A worker's answer for the storage to decode and deliver.
    enum Delivery {
        /// Items answering the jobs `first..<first + count` of `sink` (a single job, or jobs of a chunk).
        case jobs(WorkSink, root: UInt64, items: [ReceivedFrame], first: Int, count: Int)
        /// One outcome answering the single jobs `range` of a batch's members, in order.
        case batch([PoolWork], range: Range<Int>, item: ReceivedFrame)
    }

    var running: [WorkSink] = []
    var deliveries: [Delivery] = []
    var failures: [(sink: WorkSink, root: UInt64, error: any Error, jobs: Range<Int>)] = []
    var sends: [(Worker, OutgoingMessage)] = []
    var spawns: [Duration] = []
    var signals: [(Worker, Int32)] = []
    var closes: [Worker] = []
    var wakes: [Worker] = []
    var resumes: [UnsafeContinuation<Void, Never>] = []
    var events: [PoolEvent] = []
    /// How long messages waited before a worker got them, and how long their jobs ran, in nanoseconds per job:
    /// filled only while the state measures.
    var waits: [(jobName: String, nanoseconds: UInt64)] = []
    var runs: [(jobName: String, nanoseconds: UInt64)] = []

    /// Carries out the handles' part: marks jobs running, decodes and delivers answers, fails jobs. Returns the
    /// roots whose works still queued or in flight need not run any more (an ordered map's chunk that met its
    /// first failure), for ``PoolState/abandon(roots:)``.
    func resolveJobs() -> [UInt64] {
        for sink in running { sink.markRunning() }
        var abandoned: [UInt64] = []
        for delivery in deliveries {
            switch delivery {
            case .jobs(let sink, let root, let items, let first, let count):
                if sink.deliver(items, first: first, count: count) { abandoned.append(root) }
            case .batch(let members, let range, let item):
                members[range.lowerBound].sink?.deliverBatch(item, to: members[range])
            }
        }
        for failure in failures {
            if failure.sink.fail(failure.error, jobs: failure.jobs) { abandoned.append(failure.root) }
        }
        return abandoned
    }
}

/// The pool's state machine: the queue, the workers and what happens on each event.
///
/// It holds only values: the works (`PoolWork`) of its queue and of each worker, its slots (`PoolSlot`), counts.
/// Every event comes with the time, and every effect it has (a signal, a message, a spawn, a handle to resolve) is
/// an action it returns; it reads no clock, takes no other lock and calls no handle. The storage applies it under
/// its lock and carries out the actions after. Its tests drive it with no process at all.
struct PoolState<Worker: PoolWorker>: Sendable {
    let workers: Int
    let pipelineDepth: Int
    let batchesQuickJobs: Bool
    /// Jobs that take less than this, on average, on a worker may travel to it in batches.
    var batchQuickJobNanos = BatchTuning.quickJobNanos
    let crashRetries: Int
    let maxJobsPerWorker: Int?
    let idleTimeout: UInt64?
    let memoryLimit: Int?
    let defaultTimeout: Duration?
    let grace: UInt64
    /// The initializer's message, which every worker runs first.
    let initializer: PoolWork?

    var queue = FIFO<PoolWork>()
    var slots: [PoolSlot<Worker>] = []
    var starting = 0
    var nextWorkerID = 1
    var shuttingDown = false
    var terminating = false
    var consecutiveCrashes = 0
    var consecutiveStartFailures = 0
    var shutdownWaiters: [UnsafeContinuation<Void, Never>] = []
    /// How many batches of quick jobs the pool has sent, for tests and monitoring.
    var batchesSent = 0
    /// Whether the state reports how long messages wait and run (see `PoolActions.waits`), for metrics.
    var measures = false
    /// The sequence numbers of messages the state makes itself, for the jobs of a message split after a crash;
    /// their high bit keeps them apart from the storage's.
    var nextPieceSequence: UInt64 = 1 << 63
    /// The roots of handles cancelled while works of theirs may wait in the queue: those works are dropped when
    /// their turn comes. Emptied whenever the queue is, since works in flight carry their own mark.
    var cancelledRoots: Set<UInt64> = []

    init(
        workers: Int,
        pipelineDepth: Int,
        batchesQuickJobs: Bool,
        crashRetries: Int,
        maxJobsPerWorker: Int?,
        idleTimeout: UInt64?,
        memoryLimit: Int?,
        defaultTimeout: Duration?,
        grace: UInt64,
        initializer: PoolWork?
    ) {
        self.workers = workers
        self.pipelineDepth = pipelineDepth
        self.batchesQuickJobs = batchesQuickJobs
        self.crashRetries = crashRetries
        self.maxJobsPerWorker = maxJobsPerWorker
        self.idleTimeout = idleTimeout
        self.memoryLimit = memoryLimit
        self.defaultTimeout = defaultTimeout
        self.grace = grace
        self.initializer = initializer
    }

    /// Workers running or starting, not counting those on their way out.
    var liveCount: Int { starting + slots.count { $0.isLive } }

    var isStopped: Bool { shuttingDown && slots.isEmpty && starting == 0 }

    /// How many workers are ready for jobs, at least one, to share the queue among them.
    var readyCount: Int { max(1, slots.count { $0.isReady }) }

    /// Whether a job submitted now would only wait in the queue: the pool is open and has all its workers, and
    /// none of them is ready and idle. Every worker then owes the pool an event (a result, its start, its exit),
    /// and the state change of that event takes in what was submitted meanwhile.
    var acceptsQuietly: Bool {
        guard !shuttingDown, liveCount >= workers else { return false }
        return !slots.contains { $0.isReady && $0.inFlight.isEmpty }
    }

    /// The index in ``slots`` of the worker `id`.
    func slotIndex(of id: Int) -> Int? { slots.firstIndex { $0.worker.id == id } }

    // MARK: - Jobs

    mutating func submit(_ work: consuming PoolWork, now: UInt64, actions: inout PoolActions<Worker>) {
        if measures { work.submittedAt = now }
        // `consume`, here and wherever a work is handed on: a consuming parameter is otherwise copied (every
        // reference it holds retained) and then destroyed.
        queue.append(consume work)
        dispatchToIdle(now: now, actions: &actions)
        if !queue.isEmpty { ensureWorkers(actions: &actions) }
    }

    /// Starts workers until the pool has its number, with backoff after repeated crashes.
    mutating func ensureWorkers(actions: inout PoolActions<Worker>) {
        while liveCount < workers {
            starting += 1
            let delay: Duration =
                consecutiveCrashes >= 3
                ? .milliseconds(min(1000, 10 << min(consecutiveCrashes - 3, 7)))
                : consecutiveStartFailures > 0 ? .milliseconds(50 * consecutiveStartFailures) : .zero
            if delay > .zero && consecutiveCrashes >= 3 {
                actions.events.append(.respawnDelayed(delay: delay, crashes: consecutiveCrashes))
            }
            actions.spawns.append(delay)
        }
    }

    /// Sends one message to each ready worker that has nothing in flight.
    mutating func dispatchToIdle(now: UInt64, actions: inout PoolActions<Worker>) {
        guard !queue.isEmpty else { return }
        let readyCount = self.readyCount
        for index in slots.indices where slots[index].isReady && slots[index].inFlight.isEmpty {
            guard let work = takeWork() else { break }
            // The work just taken counts in the share too.
            let fairShare = (queue.count + readyCount) / readyCount
            var message = OutgoingMessage()
            let sent = batched(consume work, for: index, limit: fairShare)
            assign(consume sent, to: index, now: now, message: &message, actions: &actions)
            actions.sends.append((slots[index].worker, message))
            if queue.isEmpty { break }
        }
    }

    /// Tops up one worker's pipeline from the queue.
    mutating func refill(_ index: Int, now: UInt64, actions: inout PoolActions<Worker>) {
        guard slots[index].isReady else { return }
        let average = slots[index].averageNanos
        let jobAverage = slots[index].averageJobNanos
        // Only quick jobs go ahead of the one running: a job queued behind a long one would wait while another
        // worker idles, and a round trip is small beside a job of a millisecond or more. Quick is per job, so that
        // a batch or a map's chunk of quick jobs, which takes a millisecond or more as a whole, is pipelined too; a
        // map's chunk is, even before its worker's speed is known, since maps are cut into chunks for throughput.
        // Results of quick jobs arrive in batches, so the averages can approach zero: clamp before converting.
        let quick =
            jobAverage > 0
            ? jobAverage < PipelineTuning.quickJobNanos
            : queue.withFirst { if case .chunk = $0.kind { true } else { false } } == true
        let ahead = average > 0 ? Int(min(Double(pipelineDepth), PipelineTuning.aheadNanos / max(average, 1))) : 2
        let depth = quick ? max(2, ahead) : 1
        let fairShare = (queue.count + readyCount - 1) / readyCount
        var room = min(depth - slots[index].inFlight.count, max(1, fairShare))
        var jobBudget = max(1, fairShare)
        var message = OutgoingMessage()
        while room > 0, jobBudget > 0, slots[index].isReady, let work = takeWork() {
            let sent = batched(consume work, for: index, limit: jobBudget)
            jobBudget -= sent.itemCount
            assign(consume sent, to: index, now: now, message: &message, actions: &actions)
            room -= 1
        }
        if !message.isEmpty { actions.sends.append((slots[index].worker, message)) }
    }

    /// The next work of the queue whose handle was not cancelled.
    mutating func takeWork() -> PoolWork? {
        dropCancelledAtFront()
        return queue.popFirst()
    }

    /// Drops the works at the front of the queue whose handles were cancelled.
    mutating func dropCancelledAtFront() {
        guard !cancelledRoots.isEmpty else { return }
        while let root = queue.withFirst({ $0.root }), cancelledRoots.contains(root) {
            // A single job has one work: its root's mark has served.
            if case .single? = queue.popFirst()?.kind { cancelledRoots.remove(root) }
        }
        if queue.isEmpty { cancelledRoots.removeAll() }
    }

    /// Empties the queue, returning the works whose handles were not cancelled.
    private mutating func drainQueue() -> [PoolWork] {
        let drained = queue.removeAll().filter { !cancelledRoots.contains($0.root) }
        cancelledRoots.removeAll()
        return drained
    }

    private mutating func assign(
        _ work: consuming PoolWork,
        to index: Int,
        now: UInt64,
        message: inout OutgoingMessage,
        actions: inout PoolActions<Worker>
    ) {
        work.appendMessage(to: &message)
        if measures { recordWait(of: work, now: now, actions: &actions) }
        if slots[index].inFlight.isEmpty {
            slots[index].headStart = now
            work.forEachSink { actions.running.append($0) }
            // The driver of an idle worker sleeps without a timer; it must start watching this job.
            if work.timeout != nil || defaultTimeout != nil || memoryLimit != nil {
                actions.wakes.append(slots[index].worker)
            }
        }
        slots[index].jobsSent += max(1, work.members.count)
        slots[index].inFlight.append(consume work)
        if let maxJobs = maxJobsPerWorker, slots[index].jobsSent >= maxJobs {
            slots[index].phase = .retiring
        }
    }

    /// Cancels the jobs of the handle whose message was `root`: works of it in the queue are dropped when their
    /// turn comes; one running is killed with its worker; one sent ahead is watched and killed if it starts.
    /// `started` reads the job a worker's page names.
    mutating func cancel(root: UInt64, started: (Worker) -> StartedJob?, actions: inout PoolActions<Worker>) {
        cancelledRoots.insert(root)
        for index in slots.indices where !slots[index].isKilled {
            let matches = markCancelled(root: root, in: index)
            guard !matches.isEmpty else { continue }
            let worker = slots[index].worker
            let running = started(worker)
            for match in matches {
                let runningHere = running.flatMap { $0.sequence == match.sequence ? $0 : nil }
                let blame: StartedJob
                if let runningHere, match.member == nil || match.member == runningHere.ordinal {
                    blame = runningHere
                } else if let runningHere, let member = match.member, member < runningHere.ordinal {
                    // It ran already; its result is on its way and will be dropped.
                    continue
                } else if runningHere == nil, match.position == 0, match.member == nil || match.member == match.answered {
                    blame = StartedJob(sequence: match.sequence, ordinal: match.answered, startNanoseconds: 0)
                } else {
                    // Not running yet: watched on the worker's ticks until its result comes or it starts.
                    slots[index].cancelledAhead.append((match.sequence, match.member ?? match.answered))
                    actions.wakes.append(worker)
                    continue
                }
                kill(index, .cancelled, blame: blame, actions: &actions)
                break
            }
        }
    }

    /// Drops the queued works of handles that need nothing more (an ordered map's chunk that met its first
    /// failure), and marks theirs in flight so that they do not run again after a crash. Kills nothing.
    mutating func abandon(roots: [UInt64]) {
        for root in roots {
            cancelledRoots.insert(root)
            for index in slots.indices { _ = markCancelled(root: root, in: index) }
        }
    }

    /// Marks the works of `root` in flight to worker `index` cancelled, returning where they are: their position
    /// in flight, their message, and for a batch member, its index in the batch.
    private mutating func markCancelled(
        root: UInt64,
        in index: Int
    ) -> [(position: Int, sequence: UInt64, member: Int?, answered: Int)] {
        var matches: [(position: Int, sequence: UInt64, member: Int?, answered: Int)] = []
        var position = 0
        slots[index].inFlight.updateEach { work in
            defer { position += 1 }
            if work.root == root {
                work.isCancelled = true
                matches.append((position, work.sequence, nil, work.answered))
            } else if case .batch(var members) = work.kind, let member = members.firstIndex(where: { $0.root == root }) {
                members[member].isCancelled = true
                work.kind = .batch(members)
                matches.append((position, work.sequence, member, work.answered))
            }
        }
        return matches
    }

    private mutating func kill(
        _ index: Int,
        _ reason: KillReason,
        blame: StartedJob?,
        actions: inout PoolActions<Worker>
    ) {
        slots[index].phase = .killing(reason, blame: blame, deadline: nil)
        actions.signals.append((slots[index].worker, SIGKILL_VALUE))
    }

    /// Reports how long `work`, or each member of a batch, waited from its submission until now.
    private func recordWait(of work: borrowing PoolWork, now: UInt64, actions: inout PoolActions<Worker>) {
        if case .batch(let members) = work.kind {
            for member in members where member.submittedAt > 0 {
                actions.waits.append((member.jobName, now - min(now, member.submittedAt)))
            }
        } else if work.submittedAt > 0 {
            actions.waits.append((work.jobName, now - min(now, work.submittedAt)))
        }
    }

    /// Fails the jobs `jobs` (indices in the message) of `work` with `error`, as actions.
    private func fail(_ work: PoolWork, jobs: Range<Int>, with error: any Error, actions: inout PoolActions<Worker>) {
        guard !jobs.isEmpty else { return }
        switch work.kind {
        case .initializer:
            return
        case .batch(let members):
            for member in members[jobs] where !member.isCancelled {
                actions.failures.append((member.sink!, member.root, error, 0..<1))
            }
        case .single, .chunk:
            let first = work.offset + jobs.lowerBound
            actions.failures.append((work.sink!, work.root, error, first..<(first + jobs.count)))
        }
    }

    private func failRest(_ work: PoolWork, with error: any Error, actions: inout PoolActions<Worker>) {
        fail(work, jobs: work.answered..<work.itemCount, with: error, actions: &actions)
    }

    // MARK: - Worker events

    mutating func workerStarted(_ worker: Worker, now: UInt64, actions: inout PoolActions<Worker>) {
        starting -= 1
        consecutiveStartFailures = 0
        var slot = PoolSlot(worker: worker, phase: .ready, lastActivity: now)
        if let initializer {
            slot.phase = .initializing
            slot.inFlight.append(initializer)
            slot.headStart = now
            actions.sends.append((worker, initializer.message))
        }
        if terminating {
            slot.phase = .killing(.terminated, blame: nil, deadline: nil)
            slot.inFlight = FIFO()
            actions.signals.append((worker, SIGKILL_VALUE))
        }
        slots.append(slot)
        if slot.isReady { afterProgress(slots.count - 1, now: now, actions: &actions) }
    }

    mutating func workerFailedToStart(error: ExecutorError, permanent: Bool, actions: inout PoolActions<Worker>) {
        starting -= 1
        consecutiveStartFailures += 1
        let hasWorkers = slots.contains { $0.isReady }
        if !permanent && consecutiveStartFailures < 3 && !(shuttingDown && queue.isEmpty) {
            ensureWorkers(actions: &actions)
        } else if !hasWorkers && starting == 0 {
            for work in drainQueue() { failRest(work, with: error, actions: &actions) }
        }
        finishShutdownIfDone(actions: &actions)
    }

    /// Takes a worker's answers. `initializerFailure` is the error the initializer's failure item carries, decoded
    /// by the storage, if one of the answers is that.
    mutating func results(
        _ id: Int,
        _ results: [IncomingResult],
        initializerFailure: RemoteJobError? = nil,
        now: UInt64,
        actions: inout PoolActions<Worker>
    ) {
        guard let index = slotIndex(of: id) else { return }
        for result in results {
            guard var head = slots[index].inFlight.popFirst() else {
                violation(index, result, actions: &actions)
                return
            }
            let inTurn =
                head.sequence == result.sequence
                && (head.answersInParts
                    ? result.items.count == 1 && result.first == head.answered && result.jobs > 0
                        && result.jobs <= head.itemCount - head.answered
                    : result.items.count == head.itemCount && result.first == 0)
            guard inTurn else {
                slots[index].inFlight.prepend(consume head)
                violation(index, result, actions: &actions)
                return
            }
            let jobs = head.answersInParts ? result.jobs : head.itemCount
            let first = head.answered
            head.answered += jobs
            slots[index].lastActivity = now
            let finished = head.answered == head.itemCount
            if finished {
                if measures && !head.isInitializer {
                    let perJob = (now - min(now, slots[index].headStart)) / UInt64(max(1, head.itemCount))
                    actions.runs.append((head.jobName, perJob))
                }
                let elapsed = Double(now - min(now, slots[index].headStart))
                let average = slots[index].averageNanos
                slots[index].averageNanos = average == 0 ? elapsed : average * 0.8 + elapsed * 0.2
                let perJob = elapsed / Double(max(1, head.itemCount))
                let jobAverage = slots[index].averageJobNanos
                slots[index].averageJobNanos = jobAverage == 0 ? perJob : jobAverage * 0.8 + perJob * 0.2
                slots[index].headStart = now
            }
            let failedWhole = result.items.first?.flags == ResultFlag.failure
            switch head.kind {
            case .batch where failedWhole:
                // The worker could not decode or encode these jobs together: they run again alone, so only the
                // one at fault fails.
                queue.prepend(contentsOf: head.pieces(first..<(first + jobs), sequence: &nextPieceSequence))
            case .batch(let members):
                consecutiveCrashes = 0
                actions.deliveries.append(.batch(members, range: first..<(first + jobs), item: result.items[0]))
            case .initializer where failedWhole:
                let remote =
                    initializerFailure
                    ?? RemoteJobError(jobName: head.jobName, typeName: "unknown", errorDescription: "an unreadable error")
                kill(index, .initializerFailed(remote), blame: nil, actions: &actions)
                let error = ExecutorError.initializerFailed(pid: slots[index].worker.pid, remote)
                for work in drainQueue() { failRest(work, with: error, actions: &actions) }
                return
            case .initializer:
                // A worker killed meanwhile stays killed.
                if case .initializing = slots[index].phase { slots[index].phase = .ready }
            case .single, .chunk:
                consecutiveCrashes = 0
                actions.deliveries.append(
                    .jobs(head.sink!, root: head.root, items: result.items, first: head.offset + first, count: jobs)
                )
            }
            if !finished {
                slots[index].inFlight.prepend(consume head)
            } else {
                _ = slots[index].inFlight.withFirst { next in next.forEachSink { actions.running.append($0) } }
            }
        }
        afterProgress(index, now: now, actions: &actions)
    }

    private mutating func violation(_ index: Int, _ result: IncomingResult, actions: inout PoolActions<Worker>) {
        guard !slots[index].isKilled else { return }
        let message = ExecutorError.outOfTurnMessage(
            pid: slots[index].worker.pid,
            sequence: result.sequence,
            items: result.items.count
        )
        kill(index, .protocolViolation(message), blame: nil, actions: &actions)
    }

    /// Refills a worker, or lets it go when it is retiring or the pool is shutting down and it has nothing left.
    private mutating func afterProgress(_ index: Int, now: UInt64, actions: inout PoolActions<Worker>) {
        refill(index, now: now, actions: &actions)
        dispatchToIdle(now: now, actions: &actions)
        guard slots[index].inFlight.isEmpty else { return }
        let wasRetiring: Bool
        switch slots[index].phase {
        case .retiring: wasRetiring = true
        case .ready: wasRetiring = false
        case .initializing, .closing, .killing: return
        }
        if wasRetiring || (shuttingDown && queue.isEmpty) {
            slots[index].phase = .closing
            actions.closes.append(slots[index].worker)
        }
        if wasRetiring { ensureWorkersIfDemand(actions: &actions) }
    }

    private mutating func ensureWorkersIfDemand(actions: inout PoolActions<Worker>) {
        if !queue.isEmpty || (!shuttingDown && idleTimeout == nil) { ensureWorkers(actions: &actions) }
    }

    /// Checks a worker's running job against its timeout and the memory limit, and the worker against the idle
    /// timeout. Returns when to check again.
    mutating func tick(
        _ id: Int,
        now: UInt64,
        resident: Int?,
        started: StartedJob?,
        actions: inout PoolActions<Worker>
    ) -> UInt64? {
        guard let index = slotIndex(of: id) else { return nil }
        var next: UInt64?
        func soonest(_ time: UInt64) { next = min(next ?? time, time) }
        if case .killing(let reason, let blame, let deadline?) = slots[index].phase {
            if now >= deadline {
                actions.signals.append((slots[index].worker, SIGKILL_VALUE))
                slots[index].phase = .killing(reason, blame: blame, deadline: nil)
            } else {
                soonest(deadline)
            }
        }
        guard !slots[index].isKilled else { return next }
        if !slots[index].cancelledAhead.isEmpty {
            let inFlight = slots[index].inFlight
            slots[index].cancelledAhead.removeAll { cancelled in
                guard let work = inFlight.first(where: { $0.sequence == cancelled.sequence }) else { return true }
                return work.answered > cancelled.ordinal
            }
            if let started, slots[index].cancelledAhead.contains(where: { $0 == (started.sequence, started.ordinal) }) {
                slots[index].cancelledAhead = []
                kill(index, .cancelled, blame: started, actions: &actions)
                return next
            }
            if !slots[index].cancelledAhead.isEmpty { soonest(now + 1_000_000) }
        }
        let defaultTimeout = self.defaultTimeout
        let head = slots[index].inFlight.withFirst { head in
            (sequence: head.sequence, answered: head.answered, limit: head.limit(default: defaultTimeout))
        }
        if let head {
            // The job running: the one the worker's page names, if it is in flight, else the head's next job,
            // since the head was sent or the result before it came.
            let runningLimit = started.flatMap { started in
                slots[index].inFlight.first { $0.sequence == started.sequence }.map { $0.limit(default: defaultTimeout) }
            }
            let blame =
                runningLimit != nil
                ? started!
                : StartedJob(sequence: head.sequence, ordinal: head.answered, startNanoseconds: slots[index].headStart)
            if let timeout = runningLimit ?? head.limit {
                // Every job has the whole timeout to itself, counted from its own start.
                let start =
                    runningLimit == nil
                    ? slots[index].headStart : max(blame.startNanoseconds, slots[index].headStart)
                let deadline = timeout.deadline(after: start)
                if now >= deadline {
                    kill(index, .timedOut(timeout), blame: blame, actions: &actions)
                    return next
                }
                soonest(deadline)
            }
            if let memoryLimit {
                if let resident, resident > memoryLimit {
                    kill(index, .memory(limit: memoryLimit, resident: resident), blame: blame, actions: &actions)
                    return next
                }
                soonest(now + 20_000_000)
            }
        } else if let idleTimeout, slots[index].isReady, queue.isEmpty {
            if now >= slots[index].lastActivity + idleTimeout {
                slots[index].phase = .closing
                actions.closes.append(slots[index].worker)
            } else {
                soonest(slots[index].lastActivity + idleTimeout)
            }
        }
        return next
    }

    mutating func workerExited(
        _ id: Int,
        exit: WorkerExit,
        violation: ExecutorError?,
        lastStarted: StartedJob?,
        tracksProgress: Bool,
        now: UInt64,
        actions: inout PoolActions<Worker>
    ) {
        guard let index = slotIndex(of: id) else { return }
        let slot = slots.remove(at: index)
        let lost = Array(slot.inFlight)
        // Which job the loss hit: the one the pool killed the worker for, or the one the worker marked as started;
        // without a page, the head's next job. Jobs before it in its message finished, but their results were
        // lost with the worker, so they run again; so do the jobs after it, which had not started, and every
        // later message.
        let blame: StartedJob?
        if case .killing(_, let killBlame?, _) = slot.phase {
            blame = killBlame
        } else if !slot.isKilled && tracksProgress {
            blame = lastStarted.flatMap { started in lost.contains { $0.sequence == started.sequence } ? started : nil }
        } else {
            blame = lost.first.map { StartedJob(sequence: $0.sequence, ordinal: $0.answered, startNanoseconds: 0) }
        }
        var crashed = false
        if case .terminated? = slot.killReason {
            for work in lost { failRest(work, with: ExecutorError.terminated(jobName: work.jobName), actions: &actions) }
        } else {
            var requeued: [PoolWork] = []
            for work in lost where !work.isInitializer {
                guard let blame, blame.sequence == work.sequence else {
                    requeued += work.pieces(work.answered..<work.itemCount, sequence: &nextPieceSequence)
                    continue
                }
                let blamed = min(max(blame.ordinal, work.answered), work.itemCount - 1)
                requeued += work.pieces(work.answered..<blamed, sequence: &nextPieceSequence)
                // The blamed job, as a message of one job of its own, so its attempts are its own.
                let alone = work.itemCount == 1 ? work : work.pieces(blamed..<(blamed + 1), sequence: &nextPieceSequence).first
                if var alone {
                    if let error = failure(for: alone, slot: slot, exit: exit, violation: violation) {
                        fail(alone, jobs: 0..<1, with: error, actions: &actions)
                        crashed = violation == nil && !slot.isKilled
                    } else if !alone.isCancelled {
                        // A crash with retries left: the job runs again first.
                        alone.attempts += 1
                        requeued.insert(alone, at: 0)
                        crashed = true
                    }
                }
                requeued += work.pieces((blamed + 1)..<work.itemCount, sequence: &nextPieceSequence)
            }
            if blame == nil && !slot.isLeaving && !slot.isKilled && !shuttingDown { crashed = true }
            // A worker that crashed in its initializer counts towards the backoff like any crash.
            if let blame, !slot.isKilled, violation == nil,
                lost.contains(where: { $0.isInitializer && $0.sequence == blame.sequence })
            {
                crashed = true
            }
            queue.prepend(contentsOf: requeued)
        }
        if crashed { consecutiveCrashes += 1 }
        let blamedJob = blame.flatMap { blame in lost.first { $0.sequence == blame.sequence } }
        actions.events.append(
            .workerEnded(
                pid: slot.worker.pid, exit: exit,
                reason: violation.map { _ in "protocol violation" } ?? slot.killReason.map(\.summary),
                job: blamedJob?.jobName, crashed: crashed
            )
        )
        switch slot.killReason {
        case .terminated?, .initializerFailed?:
            break
        default:
            let retiredIdle = slot.isLeaving && slot.jobsSent < (maxJobsPerWorker ?? .max)
            if !queue.isEmpty || (!shuttingDown && !retiredIdle) { ensureWorkers(actions: &actions) }
        }
        dispatchToIdle(now: now, actions: &actions)
        finishShutdownIfDone(actions: &actions)
    }

    /// The error the blamed job of a lost worker fails with, or nil when it runs again.
    private func failure(
        for work: PoolWork,
        slot: PoolSlot<Worker>,
        exit: WorkerExit,
        violation: ExecutorError?
    ) -> (any Error)? {
        let pid = slot.worker.pid
        switch slot.killReason {
        case .cancelled?:
            return ExecutorError.cancelled(jobName: work.jobName)
        case .timedOut(let timeout)?:
            return ExecutorError.timedOut(jobName: work.jobName, after: timeout, killedWorker: true)
        case .memory(let limit, let resident)?:
            return ExecutorError.memoryLimit(jobName: work.jobName, pid: pid, limit: limit, resident: resident, exit: exit)
        case .initializerFailed?, .terminated?:
            return ExecutorError.terminated(jobName: work.jobName)
        case .protocolViolation(let message)?:
            return ExecutorError.killedForViolation(jobName: work.jobName, message: message)
        case nil:
            break
        }
        if let violation {
            return violation.about(jobName: work.jobName)
        }
        guard work.attempts >= crashRetries else { return nil }
        return ExecutorError.workerCrashed(jobName: work.jobName, pid: pid, exit: exit, attempts: work.attempts + 1)
    }

    // MARK: - Shutdown

    mutating func shutdown(cancelPending: Bool, actions: inout PoolActions<Worker>) {
        let inFlight = slots.reduce(0) { $0 + $1.inFlight.count }
        if !shuttingDown && (!queue.isEmpty || inFlight > 0) {
            actions.events.append(.draining(queued: queue.count, inFlight: inFlight, cancelPending: cancelPending))
        }
        shuttingDown = true
        if cancelPending {
            for work in drainQueue() {
                failRest(work, with: ExecutorError.droppedAtShutdown(jobName: work.jobName), actions: &actions)
            }
            // Messages sent ahead but not started are pending too: their results will be dropped.
            for index in slots.indices {
                var position = 0
                var cancelled: [PoolWork] = []
                slots[index].inFlight.updateEach { work in
                    defer { position += 1 }
                    guard position > 0, !work.isInitializer, !work.isCancelled else { return }
                    cancelled.append(work)
                    work.isCancelled = true
                }
                for work in cancelled {
                    failRest(work, with: ExecutorError.droppedAtShutdown(jobName: work.jobName), actions: &actions)
                }
            }
        }
        guard queue.isEmpty else { return }
        for index in slots.indices where slots[index].inFlight.isEmpty {
            switch slots[index].phase {
            case .ready, .retiring:
                slots[index].phase = .closing
                actions.closes.append(slots[index].worker)
            case .initializing, .closing, .killing:
                break
            }
        }
        finishShutdownIfDone(actions: &actions)
    }

    mutating func terminate(signal: Int32, now: UInt64, actions: inout PoolActions<Worker>) {
        shuttingDown = true
        terminating = true
        for work in drainQueue() { failRest(work, with: ExecutorError.terminated(jobName: work.jobName), actions: &actions) }
        for index in slots.indices {
            if case .terminated? = slots[index].killReason { continue }
            for work in slots[index].inFlight {
                failRest(work, with: ExecutorError.terminated(jobName: work.jobName), actions: &actions)
            }
            slots[index].inFlight = FIFO()
            let deadline = signal != SIGKILL_VALUE ? now + grace : nil
            slots[index].phase = .killing(.terminated, blame: nil, deadline: deadline)
            actions.signals.append((slots[index].worker, signal))
            if deadline != nil { actions.wakes.append(slots[index].worker) }
        }
        finishShutdownIfDone(actions: &actions)
    }

    mutating func finishShutdownIfDone(actions: inout PoolActions<Worker>) {
        guard isStopped else { return }
        actions.resumes += shutdownWaiters
        shutdownWaiters = []
    }
}

extension PoolState {
    /// Whether worker `id` has a message in flight: its tick then watches the job running, with the page's word on
    /// which one that is.
    func hasWorkInFlight(_ id: Int) -> Bool {
        slotIndex(of: id).map { !slots[$0].inFlight.isEmpty } ?? false
    }

    /// Whether the driver of worker `id` must look at its timers once its results are in: some job in flight has a
    /// time limit, the pool watches memory, or a cancelled job waits to be watched.
    func watchesTimers(_ id: Int) -> Bool {
        guard let index = slotIndex(of: id) else { return false }
        let slot = slots[index]
        if !slot.cancelledAhead.isEmpty { return true }
        guard !slot.inFlight.isEmpty else { return false }
        return memoryLimit != nil || slot.inFlight.contains { $0.limit(default: defaultTimeout) != nil }
    }
}
