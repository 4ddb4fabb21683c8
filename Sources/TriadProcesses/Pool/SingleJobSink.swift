import CoreMetrics
import TriadCore

/// The executor that sent a single job, as its sink reaches it when the job's handle is cancelled or waited on.
package protocol PoolJobOwner: AnyObject, Sendable {
    /// Cancels every message of `root`.
    func cancel(root: UInt64)
    /// The assist of a thread that blocks waiting for a handle (see `JobController.beginWaitAssist()`), if any.
    func assistWaiter() -> WaitAssistSession?
    /// The assist of a task about to suspend for a handle (see `JobController.assistBeforeSuspending(until:)`).
    func assistAwaiter(until finished: () -> Bool)
}

/// The sink of the single jobs of one type that one executor runs: decodes a job's output into its handle, which
/// the job's work keeps (see ``WorkSink``). It is also the handles' controller (see `JobController`), told of a
/// cancellation with the job's sequence number as its tag. One object per type, kept by the type's
/// ``SingleJobTemplate``, so that submitting a job allocates no sink and no closures for its cancellation.
package final class SingleJobSink<J: Job>: PoolJobSink, JobController {
    package let jobName: String
    package let registry: JobRegistry
    /// Where the jobs' outcomes are counted, if the pool reports metrics.
    package let metrics: PoolMetrics?
    /// The executor, for cancelling a job's message. It keeps the sink through the type's template, and lets go of
    /// its templates when its front goes (see `PoolStorage.forgetTemplates()`), which ends that cycle. Not weak: a
    /// weak reference would move the executor's reference count aside, and every retain of it would cost more.
    private let owner: (any PoolJobOwner)?

    package init(
        jobName: String,
        registry: JobRegistry,
        metrics: PoolMetrics? = nil,
        owner: (any PoolJobOwner)? = nil
    ) {
        self.jobName = jobName
        self.registry = registry
        self.metrics = metrics
        self.owner = owner
    }

    /// Drops the message of the job whose sequence number is `tag`, or kills its worker, once its handle is
    /// cancelled; the handle is resolved already, so its outcome is counted here, not by the delivery that never
    /// comes.
    package func cancelJob(tag: UInt64, wasRunning: Bool) {
        metrics?.failed(jobName, code: ExecutorError.Code.cancelled.rawValue, count: 1)
        owner?.cancel(root: tag)
    }

    package func beginWaitAssist() -> WaitAssistSession? { owner?.assistWaiter() }

    package func assistBeforeSuspending(until finished: () -> Bool) { owner?.assistAwaiter(until: finished) }

    /// The handle a work of this sink keeps.
    ///
    /// - Precondition: `handle` is the `JobHandle<J.Output>` of a single job of `J` (checked in debug builds).
    private func jobHandle(_ handle: (any AnyObject & Sendable)?) -> JobHandle<J.Output> {
        assert(handle is JobHandle<J.Output>, "a work of \(J.self)'s sink kept no handle of its output")
        // A cast that only restores the static type: it looks up no metadata, which a checked cast would.
        return unsafeDowncast(handle.unsafelyUnwrapped, to: JobHandle<J.Output>.self)
    }

    /// Resolves `handle` with `result`, counting it.
    private func complete(_ result: Result<J.Output, any Error>, handle: JobHandle<J.Output>) {
        guard handle.complete(result) else { return }
        switch result {
        case .success: metrics?.job(jobName).completed.increment()
        case .failure(let error): metrics?.failed(jobName, error)
        }
    }

    /// Resolves `handle` with `output`, counting it, without building a `Result`: generic code builds one
    /// through a type-metadata lookup at run time, once per job.
    private func succeed(_ output: J.Output, handle: JobHandle<J.Output>) {
        if handle.succeed(output) { metrics?.job(jobName).completed.increment() }
    }

    package func markRunning(handle: (any AnyObject & Sendable)?) { _ = jobHandle(handle).markRunning() }

    package func deliver(
        _ items: [ReceivedFrame], first: Int, count: Int, handle: (any AnyObject & Sendable)?
    ) -> Bool {
        guard let item = items.first else { return false }
        let handle = jobHandle(handle)
        // The common case first, without building a `Result` or an optional of the output, whose metadata generic
        // code looks up at run time.
        if item.flags == ResultFlag.success {
            do {
                succeed(
                    try item.withPayloadBytes { bytes throws(WireError) in
                        try WireDecoder().decode(J.Output.self, from: bytes)
                    },
                    handle: handle
                )
                return false
            } catch {
                // Decoded again below, to the error that says why.
            }
        }
        complete(JobMessages.decode(item, as: J.Output.self, jobName: jobName, registry: registry), handle: handle)
        return false
    }

    package func fail(_ error: any Error, jobs range: Range<Int>, handle: (any AnyObject & Sendable)?) -> Bool {
        complete(.failure(error), handle: jobHandle(handle))
        return false
    }

    package func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        let base = members.startIndex
        let count = members.count
        switch JobMessages.outcome(item, of: J.Output.self, count: count, jobName: jobName, registry: registry) {
        case .success(let outcome):
            // Every member of a batch is a job of this very type (see `PoolState.batched`).
            outcome.forEach(count: count, jobName: jobName, registry: registry) { index, output in
                succeed(output, handle: jobHandle(members[base + index].sink?.handle))
            } failure: { index, error in
                complete(.failure(error), handle: jobHandle(members[base + index].sink?.handle))
            }
        case .failure(let error):
            for index in members.indices { _ = members[index].sink?.fail(error, jobs: 0..<1) }
        }
    }
}
