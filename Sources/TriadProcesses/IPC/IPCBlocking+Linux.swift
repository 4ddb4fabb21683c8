#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import TriadCore

/// A point on the monotonic clock by which a blocking IPC call gives up; `nil` nanoseconds means never.
struct IPCDeadline {
    let nanoseconds: Int64?

    init(timeout: Duration?) {
        guard let timeout else {
            nanoseconds = nil
            return
        }
        nanoseconds = Int64(clamping: timeout.deadline(after: UInt64(triad_ipc_monotonic_nanoseconds())))
    }

    static var now: Int64 { triad_ipc_monotonic_nanoseconds() }

    /// The time left, at most `slice` nanoseconds, never negative; `slice` when there is no deadline.
    func remaining(atMost slice: Int64) -> Int64 {
        guard let nanoseconds else { return slice }
        return min(slice, max(0, nanoseconds - IPCDeadline.now))
    }

    var hasPassed: Bool {
        guard let nanoseconds else { return false }
        return IPCDeadline.now >= nanoseconds
    }
}

/// Set when the task awaiting a blocking call is cancelled, or its owner closes; blocking loops check it between
/// short waits.
final class IPCStopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .releasing) }
    var isStopped: Bool { flag.load(ordering: .acquiring) }
}

/// The dedicated OS threads on which async IPC calls do their blocking waits, so that they never block a thread
/// of Swift's cooperative pool. Threads are made on demand, one per concurrent wait, and exit after 10 idle
/// seconds.
final class IPCBlockingThreads: @unchecked Sendable {
    // Guarded by `mutex` (a pthread mutex, paired with `condition`: Synchronization has no condition variable).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0

    static let shared = IPCBlockingThreads()

    private init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Runs `body` on a dedicated thread and suspends until it returns. Cancelling the task sets the flag that
    /// `body` receives; `body` must check it at least every 100 ms.
    func run<Value: Sendable>(
        _ body: @escaping @Sendable (IPCStopFlag) throws(IPCError) -> Value
    ) async throws(IPCError) -> Value {
        let stop = IPCStopFlag()
        let result: Result<Value, IPCError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                submit {
                    continuation.resume(returning: Result { () throws(IPCError) in try body(stop) })
                }
            }
        } onCancel: {
            stop.stop()
        }
        return try result.get()
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        // Each waiting job gets its own thread: one that blocks for long must never hold up another.
        let needsThread = jobs.count > idle
        if idle > 0 { pthread_cond_signal(condition) }
        pthread_mutex_unlock(mutex)
        if needsThread { startThread() }
    }

    private func startThread() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            let pool = Unmanaged<IPCBlockingThreads>.fromOpaque(context!).takeRetainedValue()
            pool.serve()
            return nil
        }, context)
        precondition(result == 0, "cannot start an IPC waiting thread (errno \(result))")
        pthread_detach(thread)
    }

    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            if jobs.isEmpty {
                idle += 1
                var limit = timespec()
                clock_gettime(CLOCK_MONOTONIC, &limit)
                limit.tv_sec += 10
                var timedOut = false
                while jobs.isEmpty && !timedOut {
                    timedOut = pthread_cond_timedwait(condition, mutex, &limit) == ETIMEDOUT
                }
                idle -= 1
                if jobs.isEmpty {
                    pthread_mutex_unlock(mutex)
                    return
                }
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(mutex)
            job()
            pthread_mutex_lock(mutex)
        }
    }
}
#endif
