import TriadCore

/// Why the pool killed a worker; decides what happens to the job it was running.
enum KillReason: Sendable {
    case cancelled
    case timedOut(Duration)
    case memory(limit: Int, resident: Int)
    case initializerFailed(RemoteJobError)
    case protocolViolation(String)
    case terminated
}

/// What the state machine needs of a worker: who it is. The pool's workers are `WorkerProcess`es; the state's
/// tests drive it with stand-ins, no process at all.
protocol PoolWorker: AnyObject, Sendable {
    var id: Int { get }
    var pid: Int32 { get }
}

/// What the pool knows about one started worker. Guarded by the pool's state lock.
///
/// A class, though the rest of the state is made of values: the pool reads and updates a slot several times per
/// result, and a struct in a dictionary is copied whole (every reference it holds retained and released) on each
/// read through the dictionary's subscript.
final class WorkerSlot<Worker: PoolWorker>: @unchecked Sendable {
    enum Phase: Sendable { case initializing, ready, retiring }

    let worker: Worker
    var phase: Phase
    /// Entries sent to the worker and not answered yet, in order; the first is the one running.
    var inFlight = EntryQueue()
    /// When the first entry in flight started, as far as the pool can tell: when it was sent to an idle worker,
    /// or when the result before it arrived.
    var headStart: UInt64 = 0
    var jobsSent = 0
    /// An average of how long a message takes, in nanoseconds, to choose how many to send ahead.
    var averageNanos: Double = 0
    /// An average of how long one job takes, in nanoseconds, to choose whether to send quick jobs in batches.
    var averageJobNanos: Double = 0
    var lastActivity: UInt64
    var lastMemoryCheck: UInt64 = 0
    var killReason: KillReason?
    /// The job the pool killed the worker for (its message's sequence and its index there), when it killed it
    /// for one job: a timeout, the memory limit, a cancellation.
    var killBlame: StartedJob?
    /// Jobs cancelled while in flight but not running yet (their message's sequence and their index there): the
    /// worker is killed if one of them starts before its result comes back, so a cancelled job never runs long.
    var cancelledAhead: [(sequence: UInt64, ordinal: Int)] = []
    var killDeadline: UInt64?
    var closeRequested = false

    init(worker: Worker, phase: Phase, lastActivity: UInt64) {
        self.worker = worker
        self.phase = phase
        self.lastActivity = lastActivity
    }
}

/// The side effects of a state change, run by the storage after it releases the lock.
struct PoolEffects<Worker: PoolWorker> {
    var deliveries: [(entry: PoolEntry, items: [Frame], first: Int, count: Int)] = []
    var failures: [(PoolEntry, any Error)] = []
    var sends: [(Worker, OutgoingMessage)] = []
    var spawns: [Duration] = []
    var signals: [(Worker, Int32)] = []
    var closes: [Worker] = []
    var wakes: [Worker] = []
    var resumes: [UnsafeContinuation<Void, Never>] = []
}

/// The pool's state machine: the queue, the workers and what happens on each event. A pure value type, driven by
/// the storage under its lock; every effect it asks for runs after the lock is released.
struct PoolState<Worker: PoolWorker>: Sendable {
    let workers: Int
    let pipelineDepth: Int
    let batchesQuickJobs: Bool
    let crashRetries: Int
    let maxJobsPerWorker: Int?
    let idleTimeout: UInt64?
    let memoryLimit: Int?
    let defaultTimeout: Duration?
    let grace: UInt64
    let initializer: (@Sendable () -> PoolEntry)?

    var queue = EntryQueue()
    var slots: [Int: WorkerSlot<Worker>] = [:]
    var starting = 0
    var nextWorkerID = 1
    var shuttingDown = false
    var terminating = false
    var consecutiveCrashes = 0
    var consecutiveStartFailures = 0
    var shutdownWaiters: [UnsafeContinuation<Void, Never>] = []
    /// How many batches of quick jobs the pool has sent, for tests and monitoring.
    var batchesSent = 0
    /// The sequence numbers of messages the state makes itself, for the jobs of a message split after a crash;
    /// their high bit keeps them apart from the storage's.
    var nextPieceSequence: UInt64 = 1 << 63

    /// Workers running or starting, not counting those on their way out.
    var liveCount: Int { starting + slots.values.count { $0.phase != .retiring && $0.killReason == nil } }

    var isStopped: Bool { shuttingDown && slots.isEmpty && starting == 0 }

    /// How many workers are ready for jobs, at least one, to share the queue among them.
    var readyCount: Int { max(1, slots.values.count { $0.phase == .ready }) }

    /// Whether a job submitted now would only wait in the queue: the pool is open and has all its workers, and
    /// none of them is ready and idle. Every worker then owes the pool an event (a result, its start, its exit),
    /// and the state change of that event takes in what was submitted meanwhile.
    var acceptsQuietly: Bool {
        guard !shuttingDown, liveCount >= workers else { return false }
        return !slots.values.contains { $0.phase == .ready && $0.inFlight.isEmpty && $0.killReason == nil }
    }

    // MARK: - Jobs

    mutating func submit(_ entry: PoolEntry, now: UInt64, effects: inout PoolEffects<Worker>) {
        queue.append(entry)
        dispatchToIdle(now: now, effects: &effects)
        if !queue.isEmpty { ensureWorkers(effects: &effects) }
    }

    /// Starts workers until the pool has its number, with backoff after repeated crashes.
    mutating func ensureWorkers(effects: inout PoolEffects<Worker>) {
        while liveCount < workers {
            starting += 1
            let delay: Duration =
                consecutiveCrashes >= 3
                ? .milliseconds(min(1000, 10 << min(consecutiveCrashes - 3, 7)))
                : consecutiveStartFailures > 0 ? .milliseconds(50 * consecutiveStartFailures) : .zero
            effects.spawns.append(delay)
        }
    }

    /// Sends one entry to each ready worker that has nothing in flight.
    mutating func dispatchToIdle(now: UInt64, effects: inout PoolEffects<Worker>) {
        guard !queue.isEmpty else { return }
        let readyCount = self.readyCount
        for (id, slot) in slots where slot.phase == .ready && slot.inFlight.isEmpty && slot.killReason == nil {
            var message = OutgoingMessage()
            if let entry = takeEntry() {
                // The entry just taken counts in the share too.
                let fairShare = (queue.count + readyCount) / readyCount
                let sent = batched(entry, for: slot, limit: fairShare)
                assign(sent, to: id, now: now, message: &message, effects: &effects)
                effects.sends.append((slot.worker, message))
            }
            if queue.isEmpty { break }
        }
    }

    /// Tops up one worker's pipeline from the queue.
    mutating func refill(_ id: Int, now: UInt64, effects: inout PoolEffects<Worker>) {
        guard let slot = slots[id], slot.phase == .ready, slot.killReason == nil else { return }
        let depth: Int
        if slot.averageNanos > 0 {
            // Results of quick jobs arrive in batches, so the average can approach zero: clamp before converting.
            depth = max(2, Int(min(Double(pipelineDepth), 2_000_000 / max(slot.averageNanos, 1))))
        } else {
            depth = 2
        }
        let fairShare = (queue.count + readyCount - 1) / readyCount
        var room = min(depth - slot.inFlight.count, max(1, fairShare))
        var jobBudget = max(1, fairShare)
        var message = OutgoingMessage()
        while room > 0, jobBudget > 0, slot.phase == .ready, let entry = takeEntry() {
            let sent = batched(entry, for: slot, limit: jobBudget)
            assign(sent, to: id, now: now, message: &message, effects: &effects)
            room -= 1
            jobBudget -= sent.itemCount
        }
        if !message.isEmpty { effects.sends.append((slot.worker, message)) }
    }

    private mutating func takeEntry() -> PoolEntry? {
        while let entry = queue.popFirst() {
            if !entry.isFinished() { return entry }
        }
        return nil
    }

    private mutating func assign(
        _ entry: PoolEntry,
        to id: Int,
        now: UInt64,
        message: inout OutgoingMessage,
        effects: inout PoolEffects<Worker>
    ) {
        let slot = slots[id]!
        message.append(entry.message)
        entry.workerID = id
        let batch = entry as? BatchEntry
        for member in batch?.entries ?? [] { member.workerID = id }
        slot.inFlight.append(entry)
        if slot.inFlight.count == 1 {
            slot.headStart = now
            _ = entry.markRunning()
            // The driver of an idle worker sleeps without a timer; it must start watching this job.
            if entry.timeout != nil || defaultTimeout != nil || memoryLimit != nil {
                effects.wakes.append(slot.worker)
            }
        }
        slot.jobsSent += batch?.entries.count ?? 1
        if let maxJobs = maxJobsPerWorker, slot.jobsSent >= maxJobs {
            slot.phase = .retiring
        }
    }

    mutating func cancel(_ entry: PoolEntry, started: (Int) -> StartedJob?, effects: inout PoolEffects<Worker>) {
        // A queued entry is skipped when its turn comes; one in flight that has not started runs and its result
        // is dropped. Only a running one needs its worker killed: the head of the worker's messages, or a later
        // one the worker has started already (it sends the results of quick jobs together, so the head may have
        // finished without the pool knowing yet). In a batch, only the job running counts.
        guard let key = entry.handleKey else { return }
        for (id, slot) in slots where slot.killReason == nil {
            for message in slot.inFlight {
                let batchIndex = (message as? BatchEntry)?.index(of: key)
                guard message.handleKey == key || batchIndex != nil else { continue }
                let running = started(id).flatMap { $0.sequence == message.sequence ? $0 : nil }
                let blame: StartedJob
                if let running, batchIndex == nil || batchIndex == running.ordinal {
                    blame = running
                } else if let running, let batchIndex, batchIndex < running.ordinal {
                    // It ran already; its result is on its way and will be dropped.
                    return
                } else if running == nil, message === slot.inFlight.first,
                    batchIndex == nil || batchIndex == message.answered
                {
                    blame = StartedJob(sequence: message.sequence, ordinal: message.answered, startNanoseconds: 0)
                } else {
                    // Not running yet: watched on the worker's ticks until its result comes or it starts.
                    slot.cancelledAhead.append((message.sequence, batchIndex ?? message.answered))
                    effects.wakes.append(slot.worker)
                    return
                }
                slot.killReason = .cancelled
                slot.killBlame = blame
                effects.signals.append((slot.worker, SIGKILL_VALUE))
                return
            }
        }
    }

    // MARK: - Worker events

    mutating func workerStarted(_ worker: Worker, now: UInt64, effects: inout PoolEffects<Worker>) {
        starting -= 1
        consecutiveStartFailures = 0
        let slot = WorkerSlot(worker: worker, phase: .ready, lastActivity: now)
        if let initializer {
            let entry = initializer()
            entry.workerID = worker.id
            slot.phase = .initializing
            slot.inFlight = EntryQueue([entry])
            slot.headStart = now
            effects.sends.append((worker, entry.message))
        }
        if terminating {
            slot.killReason = .terminated
            slot.inFlight = EntryQueue()
            effects.signals.append((worker, SIGKILL_VALUE))
        }
        slots[worker.id] = slot
        if slot.phase == .ready && !terminating { afterProgress(worker.id, now: now, effects: &effects) }
    }

    mutating func workerFailedToStart(error: ExecutorError, permanent: Bool, effects: inout PoolEffects<Worker>) {
        starting -= 1
        consecutiveStartFailures += 1
        let hasWorkers = slots.values.contains { $0.phase == .ready }
        if !permanent && consecutiveStartFailures < 3 && !(shuttingDown && queue.isEmpty) {
            ensureWorkers(effects: &effects)
        } else if !hasWorkers && starting == 0 {
            for entry in queue.removeAll() { effects.failures.append((entry, error)) }
        }
        finishShutdownIfDone(effects: &effects)
    }

    mutating func results(_ id: Int, _ results: [IncomingResult], now: UInt64, effects: inout PoolEffects<Worker>) {
        guard let slot = slots[id] else { return }
        for result in results {
            guard let head = slot.inFlight.first, head.sequence == result.sequence,
                head.isBatch
                    ? result.items.count == 1 && result.first == head.answered && result.jobs > 0
                        && result.jobs <= head.itemCount - head.answered
                    : result.items.count == head.itemCount && result.first == 0
            else {
                if slot.killReason == nil {
                    slot.killReason = .protocolViolation(
                        "worker process \(slot.worker.pid) answered message \(result.sequence) with "
                            + "\(result.items.count) items out of turn; it was killed and replaced"
                    )
                    effects.signals.append((slot.worker, SIGKILL_VALUE))
                }
                return
            }
            let jobs = head.isBatch ? result.jobs : head.itemCount
            let first = head.answered
            head.answered += jobs
            slot.lastActivity = now
            let finished = head.answered == head.itemCount
            if finished {
                _ = slot.inFlight.popFirst()
                let elapsed = Double(now - min(now, slot.headStart))
                let average = slot.averageNanos
                slot.averageNanos = average == 0 ? elapsed : average * 0.8 + elapsed * 0.2
                let perJob = elapsed / Double(max(1, head.itemCount))
                let jobAverage = slot.averageJobNanos
                slot.averageJobNanos = jobAverage == 0 ? perJob : jobAverage * 0.8 + perJob * 0.2
                slot.headStart = now
            }
            if let batch = head as? BatchEntry, result.items.first?.flags == ResultFlag.failure {
                // The worker could not decode or encode these jobs together: they run again alone, so only the
                // one at fault fails.
                queue.prepend(batch.pieces(first..<(first + jobs), sequence: &nextPieceSequence))
                if finished, let next = slot.inFlight.first { _ = next.markRunning() }
                continue
            }
            if head.isInitializer {
                if let item = result.items.first, item.flags == ResultFlag.failure {
                    let wire = try? WireDecoder().decode(WireJobError.self, from: item.materialized.payload)
                    let remote = RemoteJobError(
                        jobName: head.jobName,
                        typeName: wire?.typeName ?? "unknown",
                        errorDescription: wire?.description ?? "an unreadable error"
                    )
                    slot.killReason = .initializerFailed(remote)
                    if let error = initializerError(slot: slot) {
                        for entry in queue.removeAll() { effects.failures.append((entry, error)) }
                    }
                    effects.signals.append((slot.worker, SIGKILL_VALUE))
                    return
                }
                slot.phase = .ready
                continue
            }
            consecutiveCrashes = 0
            effects.deliveries.append((head, result.items, first, jobs))
            if finished, let next = slot.inFlight.first { _ = next.markRunning() }
        }
        afterProgress(id, now: now, effects: &effects)
    }

    /// Refills a worker, or lets it go when it is retiring or the pool is shutting down and it has nothing left.
    private mutating func afterProgress(_ id: Int, now: UInt64, effects: inout PoolEffects<Worker>) {
        refill(id, now: now, effects: &effects)
        dispatchToIdle(now: now, effects: &effects)
        guard let slot = slots[id], slot.inFlight.isEmpty, !slot.closeRequested else { return }
        let wasRetiring = slot.phase == .retiring
        if wasRetiring || (shuttingDown && queue.isEmpty) {
            slot.phase = .retiring
            slot.closeRequested = true
            effects.closes.append(slot.worker)
        }
        if wasRetiring { ensureWorkersIfDemand(effects: &effects) }
    }

    private mutating func ensureWorkersIfDemand(effects: inout PoolEffects<Worker>) {
        if !queue.isEmpty || (!shuttingDown && idleTimeout == nil) { ensureWorkers(effects: &effects) }
    }

    /// Checks a worker's running job against its timeout and the memory limit, and the worker against the idle
    /// timeout. Returns when to check again.
    mutating func tick(
        _ id: Int,
        now: UInt64,
        resident: Int?,
        started: StartedJob?,
        effects: inout PoolEffects<Worker>
    ) -> UInt64? {
        guard let slot = slots[id] else { return nil }
        var next: UInt64?
        func soonest(_ time: UInt64) { next = min(next ?? time, time) }
        if let deadline = slot.killDeadline {
            if now >= deadline {
                effects.signals.append((slot.worker, SIGKILL_VALUE))
                slots[id]!.killDeadline = nil
            } else {
                soonest(deadline)
            }
        }
        guard slot.killReason == nil else { return next }
        if !slot.cancelledAhead.isEmpty {
            slot.cancelledAhead.removeAll { cancelled in
                guard let message = slot.inFlight.first(where: { $0.sequence == cancelled.sequence }) else { return true }
                return message.answered > cancelled.ordinal
            }
            if let started, slot.cancelledAhead.contains(where: { $0 == (started.sequence, started.ordinal) }) {
                slot.killReason = .cancelled
                slot.killBlame = started
                slot.cancelledAhead = []
                effects.signals.append((slot.worker, SIGKILL_VALUE))
                return next
            }
            if !slot.cancelledAhead.isEmpty { soonest(now + 1_000_000) }
        }
        if let head = slot.inFlight.first {
            // The job running: the one the worker's page names, if it is in flight, else the head's next job,
            // since the head was sent or the result before it came.
            let running = started.flatMap { started in
                slot.inFlight.first { $0.sequence == started.sequence }.map { (message: $0, job: started) }
            }
            let message = running?.message ?? head
            let blame = running?.job
                ?? StartedJob(sequence: head.sequence, ordinal: head.answered, startNanoseconds: slot.headStart)
            if let timeout = message.timeout ?? (message.isInitializer ? nil : defaultTimeout) {
                // Every job has the whole timeout to itself, counted from its own start.
                let start = running == nil ? slot.headStart : max(blame.startNanoseconds, slot.headStart)
                let deadline = timeout.deadline(after: start)
                if now >= deadline {
                    slots[id]!.killReason = .timedOut(timeout)
                    slots[id]!.killBlame = blame
                    effects.signals.append((slot.worker, SIGKILL_VALUE))
                    return next
                }
                soonest(deadline)
            }
            if let memoryLimit {
                if let resident, resident > memoryLimit {
                    slots[id]!.killReason = .memory(limit: memoryLimit, resident: resident)
                    slots[id]!.killBlame = blame
                    effects.signals.append((slot.worker, SIGKILL_VALUE))
                    return next
                }
                soonest(now + 20_000_000)
            }
        } else if let idleTimeout, slot.phase == .ready, !slot.closeRequested, queue.isEmpty {
            if now >= slot.lastActivity + idleTimeout {
                slots[id]!.phase = .retiring
                slots[id]!.closeRequested = true
                effects.closes.append(slot.worker)
            } else {
                soonest(slot.lastActivity + idleTimeout)
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
        effects: inout PoolEffects<Worker>
    ) {
        guard let slot = slots.removeValue(forKey: id) else { return }
        let lost = Array(slot.inFlight)
        // Which job the loss hit: the one the pool killed the worker for, or the one the worker marked as started;
        // without a page, the head's next job. Jobs before it in its message finished, but their results were
        // lost with the worker, so they run again; so do the jobs after it, which had not started, and every
        // later message.
        let blame: StartedJob?
        if let killBlame = slot.killBlame {
            blame = killBlame
        } else if slot.killReason == nil && tracksProgress {
            blame = lastStarted.flatMap { started in lost.contains { $0.sequence == started.sequence } ? started : nil }
        } else {
            blame = lost.first.map { StartedJob(sequence: $0.sequence, ordinal: $0.answered, startNanoseconds: 0) }
        }
        var requeued: [PoolEntry] = []
        var crashed = false
        if case .terminated = slot.killReason {
            for entry in lost where !entry.isInitializer {
                entry.fail(Self.terminatedError(entry), jobs: entry.answered..<entry.itemCount)
            }
        } else {
            for message in lost where !message.isInitializer {
                guard let blame, blame.sequence == message.sequence else {
                    requeued += message.pieces(message.answered..<message.itemCount, sequence: &nextPieceSequence)
                    continue
                }
                let blamed = min(max(blame.ordinal, message.answered), message.itemCount - 1)
                requeued += message.pieces(message.answered..<blamed, sequence: &nextPieceSequence)
                // The blamed job, as a message of one job of its own, so its attempts are its own.
                let alone: PoolEntry? =
                    message.itemCount == 1
                    ? message : message.pieces(blamed..<(blamed + 1), sequence: &nextPieceSequence).first
                if let alone {
                    if let error = failure(for: alone, slot: slot, exit: exit, violation: violation) {
                        effects.failures.append((alone, error))
                        crashed = violation == nil && slot.killReason == nil
                    } else if !alone.isFinished() {
                        // A crash with retries left: the job runs again first.
                        alone.attempts += 1
                        requeued.insert(alone, at: 0)
                        crashed = true
                    }
                }
                requeued += message.pieces((blamed + 1)..<message.itemCount, sequence: &nextPieceSequence)
            }
            if blame == nil && slot.phase != .retiring && slot.killReason == nil && !shuttingDown { crashed = true }
            // A worker that crashed in its initializer counts towards the backoff like any crash.
            if let blame, slot.killReason == nil, violation == nil,
                lost.contains(where: { $0.isInitializer && $0.sequence == blame.sequence })
            {
                crashed = true
            }
            for entry in requeued { entry.workerID = nil }
            queue.prepend(requeued)
        }
        if crashed { consecutiveCrashes += 1 }
        let demand = !queue.isEmpty
        switch slot.killReason {
        case .terminated?, .initializerFailed?:
            break
        default:
            let retiredIdle = slot.phase == .retiring && slot.jobsSent < (maxJobsPerWorker ?? .max)
            if demand || (!shuttingDown && !retiredIdle) { ensureWorkers(effects: &effects) }
        }
        dispatchToIdle(now: now, effects: &effects)
        finishShutdownIfDone(effects: &effects)
    }

    private func failure(
        for head: PoolEntry,
        slot: WorkerSlot<Worker>,
        exit: WorkerExit,
        violation: ExecutorError?
    ) -> (any Error)? {
        let pid = slot.worker.pid
        switch slot.killReason {
        case .cancelled?:
            return ExecutorError.cancelled(jobName: head.jobName)
        case .timedOut(let timeout)?:
            return ExecutorError.timedOut(jobName: head.jobName, after: timeout, killedWorker: true)
        case .memory(let limit, let resident)?:
            return ExecutorError(
                .memoryLimitExceeded,
                jobName: head.jobName,
                message: "worker process \(pid) used \(resident) bytes of memory, above the limit of \(limit); it "
                    + "was killed and replaced",
                underlying: exit
            )
        case .initializerFailed?, .terminated?:
            return Self.terminatedError(head)
        case .protocolViolation(let message)?:
            return ExecutorError(.protocolViolation, jobName: head.jobName, message: message)
        case nil:
            break
        }
        if let violation {
            return violation.about(jobName: head.jobName)
        }
        guard head.attempts >= crashRetries else { return nil }
        let tries = head.attempts > 0 ? " after \(head.attempts + 1) attempts" : ""
        return ExecutorError(
            .workerCrashed,
            jobName: head.jobName,
            message: "worker process \(pid) running the job \(exit)\(tries); the job failed, the other jobs go on "
                + "and the worker was replaced\(exit.lastOutputSuffix)",
            underlying: exit
        )
    }

    private func initializerError(slot: WorkerSlot<Worker>) -> ExecutorError? {
        guard case .initializerFailed(let error)? = slot.killReason else { return nil }
        return ExecutorError(
            .workerStartFailed,
            message: "the pool's initializer failed in worker process \(slot.worker.pid); no worker can start",
            underlying: error
        )
    }

    static func terminatedError(_ entry: PoolEntry) -> ExecutorError {
        ExecutorError(
            .cancelled,
            jobName: entry.jobName,
            message: "the pool was terminated before the job finished"
        )
    }

    // MARK: - Shutdown

    mutating func shutdown(cancelPending: Bool, effects: inout PoolEffects<Worker>) {
        shuttingDown = true
        if cancelPending {
            for entry in queue.removeAll() {
                effects.failures.append((entry, ExecutorError.cancelled(jobName: entry.jobName)))
            }
            // Entries sent ahead but not started are pending too: their results will be dropped.
            for slot in slots.values {
                for entry in slot.inFlight.dropFirst() where !entry.isInitializer {
                    effects.failures.append((entry, ExecutorError.cancelled(jobName: entry.jobName)))
                }
            }
        }
        guard queue.isEmpty else { return }
        for (id, slot) in slots where slot.inFlight.isEmpty && !slot.closeRequested {
            slots[id]!.phase = .retiring
            slots[id]!.closeRequested = true
            effects.closes.append(slot.worker)
        }
        finishShutdownIfDone(effects: &effects)
    }

    mutating func terminate(signal: Int32, now: UInt64, effects: inout PoolEffects<Worker>) {
        shuttingDown = true
        terminating = true
        for entry in queue.removeAll() { effects.failures.append((entry, Self.terminatedError(entry))) }
        for (id, slot) in slots {
            if case .terminated? = slot.killReason { continue }
            for entry in slot.inFlight where !entry.isInitializer {
                effects.failures.append((entry, Self.terminatedError(entry)))
            }
            slots[id]!.inFlight = EntryQueue()
            slots[id]!.killReason = .terminated
            effects.signals.append((slot.worker, signal))
            if signal != SIGKILL_VALUE {
                slots[id]!.killDeadline = now + grace
                effects.wakes.append(slot.worker)
            }
        }
        finishShutdownIfDone(effects: &effects)
    }

    mutating func finishShutdownIfDone(effects: inout PoolEffects<Worker>) {
        guard isStopped else { return }
        effects.resumes += shutdownWaiters
        shutdownWaiters = []
    }
}
