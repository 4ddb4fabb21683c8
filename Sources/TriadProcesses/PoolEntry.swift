import TriadCore

/// One message of jobs waiting for, or travelling to, a worker: a single job, a chunk of a map, or a worker's
/// initializer. Its mutable fields belong to the pool's lock.
final class PoolEntry: @unchecked Sendable {
    // Guarded by the pool's state lock: `attempts` and `workerID`. Everything else is immutable.
    let sequence: UInt64
    let jobName: String
    let message: OutgoingMessage
    let itemCount: Int
    let timeout: Duration?
    let isInitializer: Bool
    /// Whether the jobs travel as one batch, answered by one data frame.
    let isBatch: Bool
    /// Decodes the worker's items and resolves the handle. Runs on a driver thread, outside the pool's lock.
    let deliver: @Sendable ([Frame]) -> Void
    /// Resolves the handle with an error. Runs outside the pool's lock.
    let fail: @Sendable (any Error) -> Void
    /// Marks the handle running; false if it was resolved meanwhile.
    let markRunning: @Sendable () -> Bool
    /// Whether the handle has resolved already (for example cancelled), so the job need not run.
    let isFinished: @Sendable () -> Bool

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
        isBatch: Bool = false,
        deliver: @escaping @Sendable ([Frame]) -> Void,
        fail: @escaping @Sendable (any Error) -> Void,
        markRunning: @escaping @Sendable () -> Bool,
        isFinished: @escaping @Sendable () -> Bool
    ) {
        self.sequence = sequence
        self.jobName = jobName
        self.message = message
        self.itemCount = itemCount
        self.timeout = timeout
        self.isInitializer = isInitializer
        self.isBatch = isBatch
        self.deliver = deliver
        self.fail = fail
        self.markRunning = markRunning
        self.isFinished = isFinished
    }

    /// Builds the job message for `jobs` (one job, or a batch), or fails with a coding error.
    ///
    /// The jobs are encoded straight after their frame headers in one buffer, whose length fields are filled in
    /// afterwards, so a job is encoded once and never copied.
    static func message<J: Job>(
        for jobs: some Collection<J>,
        sequence: UInt64,
        maxFrameSize: Int,
        batch: Bool = false
    ) throws(ExecutorError) -> OutgoingMessage {
        let name = J.cachedJobName
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        // Large arrays stay out of the buffer: they travel from their own storage (see `WireChunk`).
        var chunks: [WireChunk] = []
        JobHeader(sequence: sequence, count: UInt32(jobs.count), jobName: name)
            .append(kind: batch ? WorkerFrameKind.chunk : WorkerFrameKind.job, to: &bytes)
        if batch {
            try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
                bytes throws(WireError) in
                try WireEncoder().encode(Array(jobs), appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
            }
        } else {
            for job in jobs {
                try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
                    bytes throws(WireError) in
                    try WireEncoder().encode(job, appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
                }
            }
        }
        var message = OutgoingMessage()
        message.appendInterleaved(bytes, chunks: chunks)
        return message
    }

    /// Appends a data frame whose payload `encode` appends (returning the arrays it left out of line), then fills
    /// in the header's length.
    private static func appendDataFrame(
        to bytes: inout [UInt8],
        chunks: inout [WireChunk],
        jobName: String,
        maxFrameSize: Int,
        _ encode: (inout [UInt8]) throws(WireError) -> [WireChunk]
    ) throws(ExecutorError) {
        let headerStart = bytes.count
        Frame.appendHeader(kind: WorkerFrameKind.data, length: 0, to: &bytes)
        let borrowedBytes: Int
        do {
            let borrowed = try encode(&bytes)
            borrowedBytes = borrowed.reduce(0) { $0 + $1.bytes.count }
            chunks.append(contentsOf: borrowed)
        } catch {
            throw ExecutorError(
                .codingFailed,
                jobName: jobName,
                message: "the job could not be encoded to send it to a worker",
                underlying: error
            )
        }
        let length = bytes.count - headerStart - Frame.headerSize + borrowedBytes
        guard length <= maxFrameSize, length <= Int(UInt32.max) else {
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
                return .success(
                    try item.withPayloadBytes { bytes throws(WireError) in
                        try WireDecoder().decode(Output.self, from: bytes)
                    }
                )
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
        guard let wire = try? item.withPayloadBytes({ bytes throws(WireError) in
            try WireDecoder().decode(WireJobError.self, from: bytes)
        }) else {
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

/// A first-in, first-out queue of entries that can also take entries back at its front.
struct EntryQueue: Sendable {
    private var items: [PoolEntry] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

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
