import NIOCore
import Synchronization

/// The bridge between Swift concurrency and one NIO event loop: a task executor (SE-0417).
///
/// A task that prefers this executor, and every child it spawns, resumes on the loop thread after each
/// suspension. Jobs wait in a FIFO of their own; one NIO task drains the jobs that are ready, then gives NIO a
/// turn for I/O, timers and its own tasks before the next batch, which is how an asyncio loop iterates. That
/// costs one lock and no allocation per job, instead of a closure and NIO's task-queue lock per job.
///
/// Jobs run on the *generic* serial context with this task executor (`runSynchronously(on:)`), not isolated to
/// a serial executor: then calling a nonisolated async function is no executor switch. With
/// `runSynchronously(isolatedTo:taskExecutor:)` every such call sent the task to the back of the queue, which
/// broke asyncio's order: a task lost its turn at each `await` of a function that did not even suspend.
/// Each step is timed for the watchdog: two clock reads and two relaxed atomic stores per job.
final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop
    let steps: StepMonitor
    private let ready = Mutex(ReadyJobs())

    private struct ReadyJobs {
        var jobs: [UnownedJob] = []
        var drainScheduled = false
    }

    init(loop: any EventLoop, steps: StepMonitor) {
        self.loop = loop
        self.steps = steps
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let mustSchedule = ready.withLock { ready -> Bool in
            ready.jobs.append(job)
            if ready.drainScheduled { return false }
            ready.drainScheduled = true
            return true
        }
        if mustSchedule { loop.execute { [self] in drain() } }
    }

    /// Runs the jobs that were ready when it started; jobs they make ready run in the next batch, after NIO has
    /// had its turn. One batch per turn, never more: NIO work that a job starts with `eventLoop.execute` (such as
    /// a socket write from an async channel writer) must run before the job's next step, or a close that follows
    /// could overtake the write.
    private func drain() {
        var batch: [UnownedJob] = []
        ready.withLock { swap(&batch, &$0.jobs) }
        let executor = asUnownedTaskExecutor()
        for job in batch {
            steps.begin(job: unsafeBitCast(job, to: UInt.self))
            job.runSynchronously(on: executor)
            steps.end()
        }
        batch.removeAll(keepingCapacity: true)
        let more = ready.withLock { ready -> Bool in
            if ready.jobs.isEmpty {
                // Hand the emptied batch back, so its capacity serves the next one.
                swap(&ready.jobs, &batch)
                ready.drainScheduled = false
                return false
            }
            return true
        }
        if more { loop.execute { [self] in drain() } }
    }

    func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

/// What the loop thread is doing now, written by the loop thread and read by the watchdog thread.
final class StepMonitor: Sendable {
    /// When the current step began, in uptime nanoseconds; 0 while the loop is idle.
    let startedAt = Atomic<UInt64>(0)
    /// The job (task) running the current step, as an address; the key of `names`.
    let job = Atomic<UInt>(0)
    /// Counts steps, so that the watchdog reports each long step once.
    let sequence = Atomic<UInt64>(0)
    /// Names of the tasks that `createTask` and `run` started, by task address.
    let names = Mutex<[UInt: String]>([:])
    /// Set by the watchdog when it reports the current step, so that the step's end is recorded for it.
    let stalled = Atomic<Bool>(false)
    /// The start and the end of the last step the watchdog reported, once it ended, in uptime nanoseconds.
    let stallStart = Atomic<UInt64>(0)
    let stallEnd = Atomic<UInt64>(0)

    @inline(__always)
    func begin(job: UInt) {
        self.job.store(job, ordering: .relaxed)
        sequence.wrappingAdd(1, ordering: .relaxed)
        startedAt.store(NIODeadline.now().uptimeNanoseconds, ordering: .releasing)
    }

    @inline(__always)
    func end() {
        // Only a step the watchdog caught costs a clock read here: its whole length is reported once it ends.
        if stalled.load(ordering: .relaxed) {
            stalled.store(false, ordering: .relaxed)
            stallStart.store(startedAt.load(ordering: .relaxed), ordering: .relaxed)
            stallEnd.store(NIODeadline.now().uptimeNanoseconds, ordering: .releasing)
        }
        startedAt.store(0, ordering: .releasing)
    }

    /// Records the name of the task that calls it, until `unregister` runs.
    func registerCurrentTask(name: String) -> UInt? {
        guard let key = currentTaskKey() else { return nil }
        names.withLock { $0[key] = name }
        return key
    }

    func unregister(_ key: UInt?) {
        guard let key else { return }
        _ = names.withLock { $0.removeValue(forKey: key) }
    }

    func name(ofJob key: UInt) -> String? {
        names.withLock { $0[key] }
    }
}

/// The address of the current task. A task is also the job that runs each of its steps, so this matches the
/// address `LoopExecutor.enqueue` records for the step; that is how the watchdog names the task it caught.
func currentTaskKey() -> UInt? {
    withUnsafeCurrentTask { task in
        guard let task else { return nil }
        return unsafeBitCast(task, to: UInt.self)
    }
}
