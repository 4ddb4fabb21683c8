import TriadCore

/// The sink of one submitted job: decodes its output into its handle.
final class SingleJobSink<J: Job>: PoolJobSink {
    let handle: JobHandle<J.Output>
    let registry: JobRegistry

    init(handle: JobHandle<J.Output>, registry: JobRegistry) {
        self.handle = handle
        self.registry = registry
    }

    func markRunning() { _ = handle.markRunning() }

    func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        guard let item = items.first else { return false }
        // The common case first, without building a `Result`: generic code builds one through a type-metadata
        // lookup at run time.
        if item.flags == ResultFlag.success,
            let output = try? item.withPayloadBytes({ bytes throws(WireError) in
                try WireDecoder().decode(J.Output.self, from: bytes)
            })
        {
            _ = handle.succeed(output)
            return false
        }
        _ = handle.complete(JobMessages.decode(item, as: J.Output.self, jobName: handle.jobName, registry: registry))
        return false
    }

    func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        _ = handle.fail(error)
        return false
    }

    func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        let kind = Self.self
        let base = members.startIndex
        let count = members.count
        switch JobMessages.outcome(item, of: J.Output.self, count: count, jobName: handle.jobName, registry: registry) {
        case .success(let outcome):
            // Every member of a batch has a sink of this very type (see `PoolState.batched`).
            outcome.forEach(count: count, jobName: handle.jobName, registry: registry) { index, output in
                _ = unsafeDowncast(members[base + index].sink!, to: kind).handle.succeed(output)
            } failure: { index, error in
                _ = unsafeDowncast(members[base + index].sink!, to: kind).handle.fail(error)
            }
        case .failure(let error):
            for index in members.indices { _ = members[index].sink?.fail(error, jobs: 0..<1) }
        }
    }
}
