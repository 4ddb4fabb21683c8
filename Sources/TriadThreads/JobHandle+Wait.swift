import CTriadShims
import TriadCore

extension JobHandle {
    /// Blocks the calling OS thread until the job finishes, then returns its value or throws its error: Python's
    /// `Future.result(timeout)`.
    ///
    /// This blocks an OS thread: do not call it from async code; the async variant is `JobHandle.value`. It suits
    /// code running on a ``TriadThreads/Thread`` or in a pool job, and synchronous programs. The thread spins for a
    /// few tens of microseconds before it parks, so a short job's result arrives without the cost of a wake-up. While
    /// it spins, the job's executor may have it help: a process pool's handle has it read the workers' results
    /// itself, so the result reaches it without a hand-off between threads.
    ///
    /// - Parameter timeout: How long to wait; `nil` waits as long as it takes. Timing out does not cancel the job.
    /// - Throws: The job's own error, an `ExecutorError` (cancelled, timed out, shut down), or
    ///   ``TriadThreads/ThreadingError`` with ``TriadThreads/ThreadingError/Code/timedOut`` if the job had not
    ///   finished at `timeout`.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func wait(timeout: Duration? = nil) throws -> Output {
        let deadline = Deadline.after(timeout)
        assistWhileSpinning(until: deadline)
        // Finished while this thread spun (the common case for a short job): nothing to park on.
        if isFinished { return try finishedValue() }
        return try waitParked(until: deadline, timeout: timeout)
    }

    /// Parks the thread until the job finishes or `deadline` passes. Apart from ``wait(timeout:)``, so that a wait
    /// that ends while it spins never looks up the metadata of the types this one keeps (generic code fetches it
    /// where the function starts, at run time).
    @inline(never)
    private func waitParked(until deadline: Deadline?, timeout: Duration?) throws -> Output {
        let outcome = Guarded<Result<Output, any Error>?>(nil)
        whenComplete { result in outcome.change { $0 = result } }
        guard let result = outcome.wait(until: deadline, wakesOthers: false, { $0 }) else {
            throw ThreadingError.timedOut(after: timeout, waitingFor: "job \(jobName) to finish")
        }
        return try result.get()
    }

    /// While the spin budget lasts, calls the executor's wait assist between looks at the handle (a process pool
    /// reads its workers' results on this thread), pausing and then yielding the CPU between calls.
    private func assistWhileSpinning(until deadline: Deadline?) {
        guard let session = beginWaitAssist() else { return }
        defer { session.end() }
        let start = triad_monotonic_ns()
        while !isFinished {
            session.poll()
            if isFinished { return }
            let now = triad_monotonic_ns()
            if now &- start >= Spin.assistNanoseconds { return }
            if let deadline, now >= deadline.nanoseconds { return }
            // A tiny job's result comes within microseconds: pause at first, as a system call to yield would
            // delay seeing it by its own cost; then yield, in case the thread that answers shares this CPU. If the
            // executor knows it does, yield from the start.
            if WaitAssistSession.pausesCPU(after: now &- start, mayPause: session.pauses) {
                triad_cpu_relax()
            } else {
                triad_thread_yield()
            }
        }
    }
}
