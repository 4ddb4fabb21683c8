import CoreMetrics
import TriadCore

/// The sink of one submitted job: decodes its output into its handle.
package final class SingleJobSink<J: Job>: PoolJobSink {
    package let handle: JobHandle<J.Output>
    package let registry: JobRegistry
    /// Where the job's outcome is counted, if the pool reports metrics.
    package let metrics: PoolMetrics?

    package init(handle: JobHandle<J.Output>, registry: JobRegistry, metrics: PoolMetrics? = nil) {
        self.handle = handle
        self.registry = registry
        self.metrics = metrics
    }

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
        // The common case first, without building a `Result`.
        if item.flags == ResultFlag.success,
            let output = try? item.withPayloadBytes({ bytes throws(WireError) in
                try WireDecoder().decode(J.Output.self, from: bytes)
            })
        {
            succeed(output)
            return false
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
