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

    var attempts = 0
    var workerID: Int?
    /// Set once the entry came back from a batch that failed as a whole, so it runs alone from then on.
    var runsAlone = false
    /// How many of the message's jobs the worker has answered, in order; the message is done at ``itemCount``.
    var answered = 0

    /// What cancelling a handle finds the entries by: the handle, shared by every entry that runs a part of its
    /// jobs (a chunk split after a crash inside it); nil for the initializer.
    var handleKey: ObjectIdentifier? { nil }

    /// The bytes of a single job's message and where its job's encoding starts, for entries that may travel in a
    /// batch with others of their kind (see ``BatchEntry``); nil for the rest.
    var batchablePayload: (bytes: [UInt8], start: Int)? { nil }

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

    /// Decodes the worker's items for the jobs `first..<first + count` of the message and resolves what they
    /// complete. Runs on a driver thread, outside the pool's lock.
    func deliver(_ items: [Frame], first: Int, count: Int) {}

    /// Resolves the handle with an error. Runs outside the pool's lock.
    func fail(_ error: any Error) {}

    /// Fails the jobs `range` of the message alone. Runs outside the pool's lock.
    func fail(_ error: any Error, jobs range: Range<Int>) { fail(error) }

    /// The entries that run the jobs `range` of this message again, as new messages whose sequence numbers start
    /// at `sequence`. Called under the pool's lock, after a crash inside the message; the whole of a message of
    /// one job is the entry itself.
    func pieces(_ range: Range<Int>, sequence: inout UInt64) -> [PoolEntry] { range.isEmpty ? [] : [self] }

    /// Marks the handle running; false if it was resolved meanwhile.
    func markRunning() -> Bool { true }

    /// Whether the handle has resolved already (for example cancelled), so the job need not run.
    func isFinished() -> Bool { false }

    /// Resolves `entries`, entries of this one's kind that travelled as one batch, from a part of the batch's
    /// answer.
    func deliverBatch(_ items: [Frame], to entries: ArraySlice<PoolEntry>) {}

    /// Builds the message of one job, or fails with a coding error.
    ///
    /// The job is encoded straight after its frame headers in one buffer, whose length field is filled in
    /// afterwards, so it is encoded once and never copied; its large arrays stay out of the buffer and travel from
    /// their own storage (see `WireChunk`). The job is taken alone rather than in a one-element collection: at run
    /// time, iterating a generic collection asks the runtime for type metadata at every step.
    static func encodedMessage<J: Job>(
        for job: J,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int
    ) throws(ExecutorError) -> EncodedJobMessage {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        var chunks: [WireChunk] = []
        JobHeader(sequence: sequence, count: 1, jobName: name).append(kind: WorkerFrameKind.job, to: &bytes)
        var payloadStart = bytes.count
        try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
            bytes throws(WireError) in
            payloadStart = bytes.count
            return try WireEncoder().encode(job, appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
        }
        return EncodedJobMessage(bytes: bytes, payloadStart: payloadStart, chunks: chunks)
    }

    /// Builds the message of a chunk of jobs, encoded as one array in one data frame, or fails with a coding error.
    static func encodedChunk<J: Job>(
        for jobs: ArraySlice<J>,
        named name: String,
        sequence: UInt64,
        timed: Bool,
        maxFrameSize: Int
    ) throws(ExecutorError) -> EncodedJobMessage {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        var chunks: [WireChunk] = []
        JobHeader(sequence: sequence, count: UInt32(jobs.count), jobName: name, timed: timed)
            .append(kind: WorkerFrameKind.chunk, to: &bytes)
        let payloadStart = bytes.count + Frame.headerSize
        try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
            bytes throws(WireError) in
            try WireEncoder().encode(Array(jobs), appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
        }
        return EncodedJobMessage(bytes: bytes, payloadStart: payloadStart, chunks: chunks)
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

    override var handleKey: ObjectIdentifier? { ObjectIdentifier(handle) }
    override func fail(_ error: any Error) { handle.fail(error) }
    override func markRunning() -> Bool { handle.markRunning() }
    override func isFinished() -> Bool { handle.isFinished }
}

/// The entry of one submitted job: decodes its output into the handle.
final class SingleJobEntry<J: Job>: HandleEntry<J.Output>, @unchecked Sendable {
    let registry: JobRegistry
    private let encoded: EncodedJobMessage

    init(handle: JobHandle<J.Output>, registry: JobRegistry, sequence: UInt64, encoded: EncodedJobMessage,
         timeout: Duration?) {
        self.registry = registry
        self.encoded = encoded
        super.init(
            handle: handle,
            sequence: sequence,
            message: encoded.message,
            itemCount: 1,
            timeout: timeout,
            isBatch: false
        )
    }

    override var batchablePayload: (bytes: [UInt8], start: Int)? {
        guard timeout == nil, attempts == 0, !runsAlone, encoded.chunks.isEmpty,
            encoded.bytes.count - encoded.payloadStart <= 1024
        else { return nil }
        return (encoded.bytes, encoded.payloadStart)
    }

    override func deliver(_ items: [Frame], first: Int, count: Int) {
        guard let item = items.first else { return }
        // The common case first, without building a `Result`: generic code builds one through a type-metadata
        // lookup at run time.
        if item.flags == ResultFlag.success {
            do {
                let output = try item.withPayloadBytes { bytes throws(WireError) in
                    try WireDecoder().decode(J.Output.self, from: bytes)
                }
                handle.succeed(output)
                return
            } catch {}
        }
        handle.complete(PoolEntry.decode(item, as: J.Output.self, jobName: jobName, registry: registry))
    }

    override func deliverBatch(_ items: [Frame], to entries: ArraySlice<PoolEntry>) {
        guard let item = items.first else { return }
        let outcome = PoolEntry.decode(item, as: WireBatchOutcome<J.Output>.self, jobName: jobName, registry: registry)
        let base = entries.startIndex
        switch outcome {
        case .success(let outcome) where outcome.outputs.count + outcome.failures.count == entries.count:
            let kind = type(of: self)
            outcome.forEach(count: entries.count, jobName: jobName, registry: registry) { index, output in
                unsafeDowncast(entries[base + index], to: kind).handle.succeed(output)
            } failure: { index, error in
                unsafeDowncast(entries[base + index], to: kind).handle.fail(error)
            }
        case .success(let outcome):
            let error = ExecutorError(
                .protocolViolation,
                jobName: jobName,
                message: "the worker answered a batch of \(entries.count) jobs with "
                    + "\(outcome.outputs.count + outcome.failures.count) outcomes"
            )
            for entry in entries { entry.fail(error) }
        case .failure(let error):
            for entry in entries { entry.fail(error) }
        }
    }
}

/// Quick jobs of one kind that travel to a worker as one message, like a chunk of a map, so a burst of tiny
/// submissions costs the worker and the pool one frame, one decoding and one answer per batch instead of per job.
///
/// The pool batches only jobs without a timeout, whose worker has been taking microseconds per job. A batch that
/// fails as a whole, because its worker crashed, was killed or could not decode it, is taken apart and its jobs run
/// again alone, so a crash or a bad payload still fails exactly one job. Cancelling a job of a running batch kills
/// the worker as it would for a job running alone; the other jobs of the batch run again.
final class BatchEntry: PoolEntry, @unchecked Sendable {
    let entries: [PoolEntry]

    /// Joins `entries`, single-job entries of one type that all have a batchable payload.
    init(_ entries: [PoolEntry]) {
        self.entries = entries
        let first = entries[0]
        var total = 4
        for entry in entries { total += entry.batchablePayload!.bytes.count - entry.batchablePayload!.start }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(first.jobName.utf8.count + 2 * Frame.headerSize + 12 + total)
        JobHeader(sequence: first.sequence, count: UInt32(entries.count), jobName: first.jobName, timed: false)
            .append(kind: WorkerFrameKind.chunk, to: &bytes)
        Frame.appendHeader(kind: WorkerFrameKind.data, length: total, to: &bytes)
        // The encoding of an array: its count, then each element as it encodes alone.
        withUnsafeBytes(of: UInt32(entries.count).littleEndian) { bytes.append(contentsOf: $0) }
        for entry in entries {
            let (payload, start) = entry.batchablePayload!
            bytes.append(contentsOf: payload[start...])
        }
        var message = OutgoingMessage()
        message.appendSegment(bytes)
        super.init(
            sequence: first.sequence,
            jobName: first.jobName,
            message: message,
            itemCount: entries.count,
            timeout: nil,
            isBatch: true
        )
    }

    override func deliver(_ items: [Frame], first: Int, count: Int) {
        entries[0].deliverBatch(items, to: entries[first..<(first + count)])
    }

    override func fail(_ error: any Error) {
        for entry in entries { entry.fail(error) }
    }

    override func fail(_ error: any Error, jobs range: Range<Int>) {
        for entry in entries[range] { entry.fail(error) }
    }

    /// The unfinished jobs of `range`, each to run alone from now on: which one was at fault, if one was, is then
    /// plain from which one fails.
    override func pieces(_ range: Range<Int>, sequence: inout UInt64) -> [PoolEntry] {
        var pieces: [PoolEntry] = []
        for entry in entries[range] where !entry.isFinished() {
            entry.runsAlone = true
            entry.workerID = nil
            pieces.append(entry)
        }
        return pieces
    }

    override func markRunning() -> Bool {
        var any = false
        for entry in entries where entry.markRunning() { any = true }
        return any
    }

    override func isFinished() -> Bool { entries.allSatisfy { $0.isFinished() } }

    /// The position in this batch of the job whose handle `key` names, if it travels here.
    func index(of key: ObjectIdentifier) -> Int? { entries.firstIndex { $0.handleKey == key } }
}

/// A job message: its bytes, where the encoding of its job (or chunk) starts in them, and the large arrays that
/// travel from their own storage (see `WireChunk`).
struct EncodedJobMessage: Sendable {
    var bytes: [UInt8]
    var payloadStart: Int
    var chunks: [WireChunk] = []
    var message: OutgoingMessage {
        var message = OutgoingMessage()
        message.appendInterleaved(bytes, chunks: chunks)
        return message
    }
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
