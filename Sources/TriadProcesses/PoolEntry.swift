import TriadCore

/// One message of jobs waiting for, or travelling to, a worker: a single job, a chunk of a map, or a worker's
/// initializer. Its mutable fields belong to the pool's lock.
///
/// The base class is the initializer's entry, which resolves nothing; ``HandleEntry`` and its subclasses resolve
/// a handle. Subclasses rather than closures: a job costs one allocation for its entry, not one per callback.
class PoolEntry: @unchecked Sendable {
    // Guarded by the pool's state lock: `attempts` and `workerID`. Everything else is immutable.
    let sequence: UInt64
    let jobName: String
    let message: OutgoingMessage
    let itemCount: Int
    let timeout: Duration?
    let isInitializer: Bool
    /// Whether the jobs travel as one batch, answered by one data frame.
    let isBatch: Bool

    /// How many data frames the worker's answer carries.
    var resultFrameCount: Int { isBatch ? 1 : itemCount }

    var attempts = 0
    var workerID: Int?

    init(
        sequence: UInt64,
        jobName: String,
        message: OutgoingMessage,
        itemCount: Int,
        timeout: Duration?,
        isInitializer: Bool = false,
        isBatch: Bool = false
    ) {
        self.sequence = sequence
        self.jobName = jobName
        self.message = message
        self.itemCount = itemCount
        self.timeout = timeout
        self.isInitializer = isInitializer
        self.isBatch = isBatch
    }

    /// Decodes the worker's items and resolves the handle. Runs on a driver thread, outside the pool's lock.
    func deliver(_ items: [Frame]) {}

    /// Resolves the handle with an error. Runs outside the pool's lock.
    func fail(_ error: any Error) {}

    /// Marks the handle running; false if it was resolved meanwhile.
    func markRunning() -> Bool { true }

    /// Whether the handle has resolved already (for example cancelled), so the job need not run.
    func isFinished() -> Bool { false }

    /// Builds the job message for `jobs` (one job, or a batch), or fails with a coding error.
    ///
    /// The jobs are encoded straight after their frame headers in one buffer, whose length fields are filled in
    /// afterwards, so a job is encoded once and never copied.
    static func message<J: Job>(
        for jobs: some Collection<J>,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int,
        batch: Bool = false
    ) throws(ExecutorError) -> OutgoingMessage {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        JobHeader(sequence: sequence, count: UInt32(jobs.count), jobName: name)
            .append(kind: batch ? WorkerFrameKind.chunk : WorkerFrameKind.job, to: &bytes)
        if batch {
            try appendDataFrame(to: &bytes, jobName: name, maxFrameSize: maxFrameSize) { bytes throws(WireError) in
                try WireEncoder().encode(Array(jobs), appendingTo: &bytes)
            }
        } else {
            for job in jobs {
                try appendDataFrame(to: &bytes, jobName: name, maxFrameSize: maxFrameSize) { bytes throws(WireError) in
                    try WireEncoder().encode(job, appendingTo: &bytes)
                }
            }
        }
        var message = OutgoingMessage()
        message.appendSegment(bytes)
        return message
    }

    /// Appends a data frame whose payload `encode` appends, then fills in the header's length.
    private static func appendDataFrame(
        to bytes: inout [UInt8],
        jobName: String,
        maxFrameSize: Int,
        _ encode: (inout [UInt8]) throws(WireError) -> Void
    ) throws(ExecutorError) {
        let headerStart = bytes.count
        Frame.appendHeader(kind: WorkerFrameKind.data, length: 0, to: &bytes)
        do {
            try encode(&bytes)
        } catch {
            throw ExecutorError(
                .codingFailed,
                jobName: jobName,
                message: "the job could not be encoded to send it to a worker",
                underlying: error
            )
        }
        let length = bytes.count - headerStart - Frame.headerSize
        guard length <= maxFrameSize else {
            throw ExecutorError(
                .codingFailed,
                jobName: jobName,
                message: "the job encodes to \(length) bytes, above the pool's frame limit of "
                    + "\(maxFrameSize) bytes; raise ProcessPoolConfiguration.maxFrameSize or send less"
            )
        }
        // The header keeps its little-endian payload length at offset 8.
        withUnsafeBytes(of: UInt32(length).littleEndian) { field in
            for (offset, byte) in field.enumerated() { bytes[headerStart + 8 + offset] = byte }
        }
    }

    /// Turns one result item from a worker into the job's output or error.
    static func decode<Output: Decodable>(
        _ item: Frame,
        as type: Output.Type,
        jobName: String,
        registry: JobRegistry
    ) -> Result<Output, any Error> {
        if item.flags == ResultFlag.success {
            do {
                return .success(try WireDecoder().decode(Output.self, from: item.payload))
            } catch {
                return .failure(
                    ExecutorError(
                        .codingFailed,
                        jobName: jobName,
                        message: "the job's output from the worker could not be decoded",
                        underlying: error
                    )
                )
            }
        }
        guard let wire = try? WireDecoder().decode(WireJobError.self, from: item.payload) else {
            return .failure(
                ExecutorError(.protocolViolation, jobName: jobName, message: "the worker sent an unreadable error")
            )
        }
        let remote = RemoteJobError(jobName: jobName, typeName: wire.typeName, errorDescription: wire.description)
        switch wire.typeName {
        case String(reflecting: WireError.self):
            return .failure(
                ExecutorError(
                    .codingFailed,
                    jobName: jobName,
                    message: "the worker could not decode or encode the job: \(wire.description)",
                    underlying: remote
                )
            )
        case String(reflecting: ExecutorError.self):
            return .failure(
                ExecutorError(
                    .unknownJob,
                    jobName: jobName,
                    message: "the worker program does not register this job (\(wire.description)); register it "
                        + "in the worker's ProcessPool.bootstrap call too",
                    underlying: remote
                )
            )
        default:
            return .failure(registry.error(from: wire, jobName: jobName))
        }
    }
}

/// An entry that resolves a handle.
class HandleEntry<Output: Sendable>: PoolEntry, @unchecked Sendable {
    let handle: JobHandle<Output>

    init(handle: JobHandle<Output>, sequence: UInt64, message: OutgoingMessage, itemCount: Int, timeout: Duration?,
         isBatch: Bool) {
        self.handle = handle
        super.init(
            sequence: sequence,
            jobName: handle.jobName,
            message: message,
            itemCount: itemCount,
            timeout: timeout,
            isBatch: isBatch
        )
    }

    override func fail(_ error: any Error) { handle.fail(error) }
    override func markRunning() -> Bool { handle.markRunning() }
    override func isFinished() -> Bool { handle.isFinished }
}

/// The entry of one submitted job: decodes its output into the handle.
final class SingleJobEntry<J: Job>: HandleEntry<J.Output>, @unchecked Sendable {
    let registry: JobRegistry

    init(handle: JobHandle<J.Output>, registry: JobRegistry, sequence: UInt64, message: OutgoingMessage,
         timeout: Duration?) {
        self.registry = registry
        super.init(handle: handle, sequence: sequence, message: message, itemCount: 1, timeout: timeout, isBatch: false)
    }

    override func deliver(_ items: [Frame]) {
        guard let item = items.first else { return }
        handle.complete(PoolEntry.decode(item, as: J.Output.self, jobName: jobName, registry: registry))
    }
}

/// The entry of a chunk of a map, whose delivery and failure the map decides.
final class ChunkEntry<Output: Sendable>: HandleEntry<Output>, @unchecked Sendable {
    private let onDeliver: @Sendable ([Frame]) -> Void
    private let onFail: @Sendable (any Error) -> Void

    init(handle: JobHandle<Output>, sequence: UInt64, message: OutgoingMessage, itemCount: Int, timeout: Duration?,
         deliver: @escaping @Sendable ([Frame]) -> Void, fail: @escaping @Sendable (any Error) -> Void) {
        onDeliver = deliver
        onFail = fail
        super.init(
            handle: handle,
            sequence: sequence,
            message: message,
            itemCount: itemCount,
            timeout: timeout,
            isBatch: true
        )
    }

    override func deliver(_ items: [Frame]) { onDeliver(items) }
    override func fail(_ error: any Error) { onFail(error) }
}

/// A first-in, first-out queue of entries that can also take entries back at its front: the pool's queue, and
/// each worker's entries in flight. Taking from the front costs O(1), not a shift of every entry behind it.
struct EntryQueue: RandomAccessCollection, Sendable {
    private var items: [PoolEntry] = []
    private var head = 0

    init() {}

    init(_ entries: [PoolEntry]) { items = entries }

    var startIndex: Int { head }
    var endIndex: Int { items.count }
    subscript(position: Int) -> PoolEntry { items[position] }

    mutating func append(_ entry: PoolEntry) { items.append(entry) }

    mutating func prepend(_ entries: [PoolEntry]) {
        guard !entries.isEmpty else { return }
        items.replaceSubrange(0..<head, with: entries)
        head = 0
    }

    mutating func popFirst() -> PoolEntry? {
        guard head < items.count else { return nil }
        let entry = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return entry
    }

    mutating func removeAll() -> [PoolEntry] {
        defer {
            items.removeAll()
            head = 0
        }
        return Array(items[head...])
    }
}
