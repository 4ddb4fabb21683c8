import CoreMetrics
import Logging
import TriadCore

/// How a ``ProcessPoolExecutor`` starts, feeds, watches and replaces its worker processes.
///
/// Every field has a default that suits most programs; change what you need:
///
/// ```swift
/// var configuration = ProcessPoolConfiguration(workers: 8)
/// configuration.defaultTimeout = .seconds(30)
/// configuration.maxJobsPerWorker = 1_000
/// configuration.memoryLimitPerWorker = 512 << 20
/// let pool = ProcessPoolExecutor(configuration: configuration)
/// ```
public struct ProcessPoolConfiguration: Sendable {
    /// How many worker processes run at once. Defaults to the number of CPUs.
    public var workers: Int
    /// The program the workers run. Defaults to ``WorkerExecutable/currentProgram``.
    public var executable: WorkerExecutable
    /// The jobs and errors the pool may run. `nil` (the default) means the process-wide registry that
    /// ``ProcessPool/bootstrap(jobs:errors:)`` filled.
    public var registry: JobRegistry?
    /// How long a job may run once started when its `JobOptions.timeout` is `nil`; `nil` means no limit.
    public var defaultTimeout: Duration?
    /// How many times a job whose worker crashed runs again before its handle fails. 0 (the default) fails it at
    /// the first crash. A job that timed out, was cancelled or exceeded the memory limit never runs again. (Jobs
    /// queued behind the crashed one, and quick ones finished just before it whose results were lost with the
    /// worker, always run again; they do not count as attempts.)
    public var crashRetries: Int
    /// After this many jobs a worker is replaced by a fresh one, like Python's `max_tasks_per_child`; `nil` (the
    /// default) keeps workers for the pool's life.
    public var maxJobsPerWorker: Int?
    /// A worker that has had nothing to do for this long exits; a new one starts when jobs come. `nil` (the
    /// default) keeps idle workers warm.
    public var idleTimeout: Duration?
    /// The most resident memory, in bytes, a worker may use while it runs a job. A worker above it is killed and
    /// its job fails with `ExecutorError.Code.memoryLimitExceeded`. `nil` (the default) means no limit. The pool
    /// samples the worker's resident set every 20 ms, so a job that allocates very fast can overshoot briefly.
    public var memoryLimitPerWorker: Int?
    /// A job every new worker runs once before any other job, like Python's `initializer`. If it fails, the
    /// worker is discarded and the jobs waiting for workers fail with `ExecutorError.Code.workerStartFailed`.
    public var initializer: (any Job)?
    /// How long a new worker has to answer the pool's handshake. A program that does not call
    /// ``ProcessPool/bootstrap(jobs:errors:)`` first in `main` never answers, and the jobs waiting for it fail with
    /// `ExecutorError.Code.workerStartFailed` after this long. Defaults to 10 seconds.
    public var handshakeTimeout: Duration
    /// The largest frame, in bytes, either side accepts. A worker that sends a larger one is treated as broken
    /// (`ExecutorError.Code.protocolViolation`); a job whose encoding is larger fails at submit with
    /// `ExecutorError.Code.codingFailed`. Defaults to 1 GiB.
    public var maxFrameSize: Int
    /// The most jobs sent ahead to one worker. Quick jobs are pipelined so a worker never waits for the next one.
    /// Jobs that take a millisecond or more on a worker, and a worker's first job, go one at a time, so that no job
    /// waits behind a long one while another worker is idle. Defaults to 512.
    public var pipelineDepth: Int
    /// Whether jobs submitted one by one may travel to a worker in batches when they are quick, as
    /// ``ProcessPoolExecutor/map(_:options:)`` sends chunks. On by default. The pool batches jobs of one type,
    /// without a timeout, with small payloads, once the worker has been taking under 100 µs per job, in batches of
    /// about a millisecond's work; a batch's results come back together. Turn it off when every result must come
    /// back the moment its job ends.
    public var batchesQuickJobs: Bool
    /// How quick, on average, a worker's jobs must be for jobs to travel to it in batches (see
    /// ``batchesQuickJobs``). The average is measured by the parent, so a loaded machine can push it over; tests that
    /// need batches raise it.
    package var batchQuickJobThreshold: Duration = .nanoseconds(Int64(BatchTuning.quickJobNanos))
    /// How long ``ProcessPoolExecutor/terminate()`` waits after SIGTERM before it sends SIGKILL.
    public var terminationGracePeriod: Duration
    /// Whether workers print Swift's crash backtraces. Off by default: a crash is reported to the parent, and a
    /// backtrace per crashed worker slows replacement. Turn it on to debug a crashing job.
    public var workerBacktraces: Bool
    /// Extra environment variables for the workers, on top of the parent's environment.
    public var environment: [String: String]
    /// The size in bytes from which an encoded job, output or error travels through segments of its own instead of
    /// the worker's rings (see ``ringCapacity``): 256 KiB by default; `nil` sends everything through the rings, in
    /// pieces as the other side reads. Jobs do not change: a `[Double]`,
    /// `[UInt8]` or `Data` in a job or its output moves this way by itself. Each worker has two anonymous segments
    /// (memfd, never in `/dev/shm`) that grow to the largest payloads in flight and are reused from their start once
    /// read; they are freed when the worker exits, however it ends. Large arrays of numbers are copied into a segment
    /// from their own storage and decoded straight out of it, so each side copies them once. While it is on, workers
    /// also run with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (transparent huge pages for large blocks, which makes a
    /// fresh 64 MiB array cost 32 page faults instead of 16,384) unless the environment sets `GLIBC_TUNABLES` already.
    /// A program that moves large payloads often gains as much again by starting itself with that variable set.
    public var sharedPayloadThreshold: Int?
    /// How the pool's threads and its workers wait when they have nothing to do. Jobs and results travel through
    /// two rings in memory that the pool shares with each worker; after its last frame, each side spins for a
    /// while, then yields its CPU for a while, then parks until the other side rings it through the worker's
    /// socket. A frame that arrives while the other side spins costs no system call and no wake-up; one that
    /// arrives once it has parked costs a wake-up (tens of microseconds on a virtual machine). Defaults to
    /// ``IdleStrategy/balanced``. An idle pool parks everywhere, so it uses no CPU whatever the strategy.
    public var idleStrategy: IdleStrategy
    /// The size in bytes of each of the two rings a worker shares with the pool (jobs one way, results the other),
    /// rounded up to a power of two between 4 KiB and 1 GiB. Defaults to 512 KiB. A message larger than its ring
    /// still goes through, in pieces, as the other side reads; payloads from ``sharedPayloadThreshold`` up never
    /// take the rings at all. Once a ring has gone round, its pages stay in memory for the worker's life: each
    /// worker holds twice this much shared memory.
    public var ringCapacity: Int

    /// Where the pool logs. Events worth an operator's attention log at `warning` (a worker crashed or could not
    /// start) or `notice` (a worker killed for its timeout or its memory, respawns backing off after repeated
    /// crashes, a shutdown that drains jobs); a failed job and a worker's start and end log at `debug`. Every
    /// record carries `pool` metadata (``name``), and `worker.pid`, `job` and `code` where they apply. By default
    /// the pool logs nothing, as AsyncHTTPClient does: a command-line program's standard output stays its own.
    /// A server passes its logger.
    public var logger: Logger
    /// The pool's name in its logs, as `pool` metadata, and in its metrics, as the `pool` dimension. Defaults to
    /// `"processes"`.
    public var name: String
    /// Where the pool reports its metrics (swift-metrics): jobs submitted, completed and failed by error code, worker
    /// restarts, the queue's depth, messages in flight, live workers, and how long jobs wait and run. `nil` (the
    /// default) means the program's `MetricsSystem.factory`; while that is swift-metrics' no-op default, the pool
    /// records nothing and pays nothing for it. The labels and their dimensions are listed in the article "Getting
    /// started with process pools", under "Logs and metrics".
    public var metricsFactory: (any MetricsFactory)?
    /// The first part of every metric's label, as in `triad_pool_jobs_submitted_total`. Defaults to `"triad_pool"`.
    public var metricsLabelPrefix: String

    /// Makes a configuration.
    ///
    /// - Parameter workers: How many worker processes run at once; `nil` for the number of CPUs. Must be at
    ///   least 1.
    public init(workers: Int? = nil) {
        let count = workers ?? ProcessPoolConfiguration.cpuCount
        precondition(count >= 1, "a process pool needs at least one worker")
        self.workers = count
        self.executable = .currentProgram
        self.registry = nil
        self.defaultTimeout = nil
        self.crashRetries = 0
        self.maxJobsPerWorker = nil
        self.idleTimeout = nil
        self.memoryLimitPerWorker = nil
        self.initializer = nil
        self.handshakeTimeout = .seconds(10)
        self.maxFrameSize = Frame.defaultMaxPayload
        self.pipelineDepth = 512
        self.batchesQuickJobs = true
        self.terminationGracePeriod = .seconds(1)
        self.workerBacktraces = false
        self.environment = [:]
        self.sharedPayloadThreshold = 256 << 10
        self.idleStrategy = .balanced
        self.ringCapacity = 512 << 10
        self.logger = Logger(label: "triad.processes", factory: { _ in SwiftLogNoOpLogHandler() })
        self.name = "processes"
        self.metricsFactory = nil
        self.metricsLabelPrefix = "triad_pool"
    }

    static var cpuCount: Int { Syscall.cpuCount }

    /// ``ringCapacity`` as the rings are made: a power of two from 4 KiB to 1 GiB.
    var effectiveRingCapacity: Int {
        let clamped = min(max(ringCapacity, 4 << 10), 1 << 30)
        return 1 << (Int.bitWidth - (clamped - 1).leadingZeroBitCount)
    }
}

/// How a side of a process pool's connection to a worker waits when it has nothing to do: it spins for ``spin``
/// after its last frame, then yields its CPU for ``yield``, then parks until the other side rings. This is the
/// spin-then-park of Aeron's idle strategies and the LMAX Disruptor's wait strategies.
///
/// Spinning answers fastest but burns a CPU while it lasts; with more spinning threads than CPUs they take turns,
/// and yielding lets the others run. Parking costs nothing while it lasts, but waking a parked CPU takes tens of
/// microseconds on a virtual machine. Spinning is always bounded, so an idle pool uses no CPU.
///
/// While a thread blocks in `JobHandle.wait()` on one of the pool's jobs, and so spins for its result, a worker
/// spins for the first 10 µs of its span (never past it) instead of yielding: that thread submits its next job as
/// soon as it has the result, and a yield would hide it for the length of a system call. A task that awaits a job's
/// handle reads the workers' results itself, for ``awaitAssist``, before it suspends.
public struct IdleStrategy: Sendable, Hashable {
    /// How long a side spins on the ring after its last frame.
    public var spin: Duration
    /// How long it then calls `sched_yield` between looks at the ring, before it parks: other threads that want its
    /// CPU get it at once, but with none waiting this burns the CPU as spinning does.
    public var yield: Duration
    /// How long a task that awaits a pending job's handle (`value` or `result`) reads the workers' results itself
    /// before it suspends. A short job's result then reaches the task on its own thread, without the wake-up that
    /// resumes a suspended task, and often that of a parked pool thread before it (10 to 30 µs here, several times
    /// the job's whole round trip). It spins on a thread of Swift's cooperative pool (or on the main actor),
    /// yielding between looks, so it is short: by default about as long as the wake-ups it saves, the rule of
    /// spinning for as long as blocking would cost, which never costs more than twice the better of the two. A
    /// pool whose awaits keep outlasting it stops assisting, but for one await in 32 that checks whether its jobs
    /// got shorter. A cancelled task does not assist. Zero suspends at once.
    public var awaitAssist: Duration

    /// Makes a strategy. Negative durations count as zero. Without `awaitAssist`, an awaiting task reads results
    /// for 20 µs before it suspends, as with ``balanced``; pass `.zero` for a task that suspends at once.
    public init(spin: Duration, yield: Duration, awaitAssist: Duration = .microseconds(20)) {
        self.spin = spin
        self.yield = yield
        self.awaitAssist = awaitAssist
    }

    /// Spins 1 µs, then yields for 150 µs, then parks: a steady stream of jobs never parks, and a pool that goes
    /// quiet stops using CPU within a fifth of a millisecond. Yielding rather than spinning suits machines with
    /// few CPUs, where the pool's thread, the worker and the waiting program take turns on them. An awaiting task
    /// reads results for 20 µs before it suspends. The default.
    public static let balanced = IdleStrategy(spin: .microseconds(1), yield: .microseconds(150))

    /// Spins 5 µs and yields 2 ms before it parks, and has an awaiting task read results for 50 µs: for a program
    /// that submits jobs one after another with a little work between them, at the cost of a CPU kept busy for
    /// 2 ms after each result.
    public static let lowLatency = IdleStrategy(
        spin: .microseconds(5),
        yield: .milliseconds(2),
        awaitAssist: .microseconds(50)
    )

    /// Parks at once, and an awaiting task suspends at once: for a machine where every CPU is busy with other
    /// work, at the cost of a wake-up per message.
    public static let lowCPU = IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .zero)

    var schedule: IdleSchedule {
        IdleSchedule(spinNanos: Self.nanoseconds(spin), yieldNanos: Self.nanoseconds(yield))
    }

    var awaitAssistNanos: UInt64 { Self.nanoseconds(awaitAssist) }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        // Saturating: a duration of centuries is as good as forever.
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow || carry ? .max : total
    }
}

/// The program a pool's workers run.
public struct WorkerExecutable: Sendable, Hashable {
    /// The executable's path.
    public var path: String
    /// Arguments after the program name.
    public var arguments: [String]

    /// The running program itself, started again through `/proc/self/exe`. Its `main` must call
    /// ``ProcessPool/bootstrap(jobs:errors:)`` first.
    public static var currentProgram: WorkerExecutable { WorkerExecutable(path: "/proc/self/exe") }

    /// A separate worker program, for tests and for programs whose `main` cannot host the bootstrap call. Its
    /// `main` must call ``ProcessPool/bootstrap(jobs:errors:)`` first with the same jobs.
    ///
    /// - Parameters:
    ///   - path: The executable's path.
    ///   - arguments: Arguments after the program name.
    public init(path: String, arguments: [String] = []) {
        self.path = path
        self.arguments = arguments
    }
}

/// How a worker process ended: its exit status or the signal that killed it. It is the
/// `ExecutorError.underlying` cause of a `ExecutorError.Code.workerCrashed` error.
public struct WorkerExit: Error, Sendable, Hashable, CustomStringConvertible {
    /// The worker's process id.
    public var pid: Int32
    /// The signal that killed it, if a signal did.
    public var signal: Int32?
    /// Its exit status, if it exited.
    public var exitStatus: Int32?
    /// The last lines the worker wrote to its standard error before it ended, at most 4 KiB; empty if it wrote
    /// none. A `fatalError` or a failed precondition leaves its message here, so the job's error says why the
    /// worker died. Everything the worker writes still reaches the parent's standard error as it is written.
    public var lastOutput: String

    /// Makes an exit description.
    public init(pid: Int32, signal: Int32?, exitStatus: Int32?, lastOutput: String = "") {
        self.pid = pid
        self.signal = signal
        self.exitStatus = exitStatus
        self.lastOutput = lastOutput
    }

    /// For example `killed by signal 11 (SIGSEGV)` or `exited with status 3`.
    public var description: String {
        if let signal { return "killed by signal \(signal) (\(WorkerExit.signalName(signal)))" }
        if let exitStatus { return "exited with status \(exitStatus)" }
        return "ended"
    }

    /// The worker's last output, introduced, to end an error's message with; empty when it wrote nothing.
    var lastOutputSuffix: String {
        lastOutput.isEmpty ? "" : ". The worker's last output:\n" + lastOutput
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
            8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
            15: "SIGTERM",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}
