import TriadCore

/// Submitting to any executor that sends the pool's job messages (the process pool, the MPI cluster): building a
/// single job's work with its traced handle, and queuing a work with its handle's cancellation and counting.
/// The executor supplies only how to queue a work and how to cancel one.
package enum PoolSubmission {
    /// The work and the handle of one job: encoded once, with the caller's trace context, and a sink that resolves
    /// the handle and is its controller, through which cancelling the handle reaches `owner`. `headerTemplate` is
    /// the job type's `JobHeader.singleTemplate(jobName:)`, if the executor keeps it. Queue the work with
    /// ``enqueue(single:handle:queue:)``.
    ///
    /// - Throws: `ExecutorError.Code.codingFailed` when the job cannot be encoded or is above `maxFrameSize`; the
    ///   handle, which nobody sees, then fails too, so that its span, if traced, ends with the error.
    package static func single<J: Job>(
        _ job: J,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int,
        timeout: Duration?,
        registry: JobRegistry,
        metrics: PoolMetrics?,
        owner: any PoolJobOwner,
        headerTemplate: [UInt8]? = nil
    ) throws(ExecutorError) -> (work: PoolWork, handle: JobHandle<J.Output>) {
        let handle = JobHandle<J.Output>(jobName: name)
        let encoded: EncodedJobMessage
        do throws(ExecutorError) {
            encoded = try JobMessages.single(
                job, named: name, sequence: sequence, maxFrameSize: maxFrameSize,
                context: JobTracing.begin(jobName: name, jobs: 1, handle: handle), headerTemplate: headerTemplate
            )
        } catch {
            _ = handle.fail(error)
            throw error
        }
        let sink = SingleJobSink<J>(handle: handle, registry: registry, metrics: metrics, owner: owner, root: sequence)
        handle.setController(sink)
        return (PoolWork(sequence: sequence, jobName: name, encoded: encoded, timeout: timeout, sink: sink), handle)
    }

    /// Queues a single job's `work` (from ``single(_:named:sequence:maxFrameSize:timeout:registry:metrics:owner:headerTemplate:)``,
    /// whose handle's controller already cancels it) with `queue`.
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        single work: consuming PoolWork,
        handle: JobHandle<Output>,
        queue: (consuming PoolWork) throws(ExecutorError) -> Void
    ) throws(ExecutorError) {
        do throws(ExecutorError) {
            // Moved, not copied: a copy retains every reference the work holds, and a job's work is handed on
            // several times before it reaches a worker.
            try queue(consume work)
        } catch {
            _ = handle.fail(error)
            throw error
        }
    }

    /// Queues `work` (a map's chunk) with `queue`, letting cancelling `handle` drop the work through `cancel`
    /// (given the work's root) and count its jobs as cancelled.
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        _ work: consuming PoolWork,
        handle: JobHandle<Output>,
        metrics: PoolMetrics?,
        cancel: @escaping @Sendable (_ root: UInt64) -> Void,
        queue: (consuming PoolWork) throws(ExecutorError) -> Void
    ) throws(ExecutorError) {
        let root = work.root
        // A cancelled handle is resolved by its cancel, so its sink never counts it: count its jobs here.
        let (jobName, jobs) = (work.jobName, work.itemCount)
        handle.setCancelHandler { _ in
            metrics?.failed(jobName, code: ExecutorError.Code.cancelled.rawValue, count: jobs)
            cancel(root)
        }
        try enqueue(single: consume work, handle: handle, queue: queue)
    }
}
