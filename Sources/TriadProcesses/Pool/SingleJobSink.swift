import CoreMetrics
import TriadCore

/// The executor that sent a single job, as its sink reaches it when the job's handle is cancelled or waited on.
package protocol PoolJobOwner: AnyObject, Sendable {
    /// Cancels every message of `root`.
    func cancel(root: UInt64)
    /// The assist of a thread that blocks waiting for a handle (see `JobController.beginWaitAssist()`), if any.
    func assistWaiter() -> WaitAssistSession?
}

/// The sink of one submitted job: decodes its output into its handle. It is also the handle's controller (see
/// `JobController`), so that one object per job serves both, with no closures allocated for the cancellation.
package final class SingleJobSink<J: Job>: PoolJobSink, JobController {
    package let handle: JobHandle<J.Output>
    package let registry: JobRegistry
    /// Where the job's outcome is counted, if the pool reports metrics.
    package let metrics: PoolMetrics?
    /// The executor, for cancelling the job's message, whose sequence number is `root`; nil for a sink that no
    /// handle's cancellation reaches.
    private let owner: (any PoolJobOwner)?
    private let root: UInt64

    package init(
        handle: JobHandle<J.Output>,
        registry: JobRegistry,
        metrics: PoolMetrics? = nil,
        owner: (any PoolJobOwner)? = nil,
        root: UInt64 = 0
    ) {
        self.handle = handle
        self.registry = registry
        self.metrics = metrics
        self.owner = owner
        self.root = root
    }

    /// Drops the job's message, or kills its worker, once the handle is cancelled; the handle is resolved already,
    /// so its outcome is counted here, not by the delivery that never comes.
    package func cancelJob(wasRunning: Bool) {
        metrics?.failed(handle.jobName, code: ExecutorError.Code.cancelled.rawValue, count: 1)
        owner?.cancel(root: root)
    }

    package func beginWaitAssist() -> WaitAssistSession? { owner?.assistWaiter() }

    /// Resolves the handle with `result`, counting it.
    private func complete(_ result: Result<J.Output, any Error>) {
        guard handle.complete(result) else { return }
        switch result {
        case .success: metrics?.job(handle.jobName).completed.increment()
        case .failure(let error): metrics?.failed(handle.jobName, error)
        }
    }

    /// Resolves the handle with `output`, counting it, without building a `Result`: generic code builds one
    /// through a type-metadata lookup at run time, once per job.
    private func succeed(_ output: J.Output) {
        if handle.succeed(output) { metrics?.job(handle.jobName).completed.increment() }
    }

    package func markRunning() { _ = handle.markRunning() }

    package func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        guard let item = items.first else { return false }
        // The common case first, without building a `Result` or an optional of the output, whose metadata generic
        // code looks up at run time.
        if item.flags == ResultFlag.success {
            do {
                succeed(
                    try item.withPayloadBytes { bytes throws(WireError) in
                        try WireDecoder().decode(J.Output.self, from: bytes)
                    }
                )
                return false
            } catch {
                // Decoded again below, to the error that says why.
            }
        }
        complete(JobMessages.decode(item, as: J.Output.self, jobName: handle.jobName, registry: registry))
        return false
    }

    package func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        complete(.failure(error))
        return false
    }

    package func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        let kind = Self.self
        let base = members.startIndex
        let count = members.count
        switch JobMessages.outcome(item, of: J.Output.self, count: count, jobName: handle.jobName, registry: registry) {
        case .success(let outcome):
            // Every member of a batch has a sink of this very type (see `PoolState.batched`).
            outcome.forEach(count: count, jobName: handle.jobName, registry: registry) { index, output in
                unsafeDowncast(members[base + index].sink!, to: kind).succeed(output)
            } failure: { index, error in
                unsafeDowncast(members[base + index].sink!, to: kind).complete(.failure(error))
            }
        case .failure(let error):
            for index in members.indices { _ = members[index].sink?.fail(error, jobs: 0..<1) }
        }
    }
}
