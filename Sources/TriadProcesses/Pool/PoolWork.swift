import TriadCore

/// One message of jobs waiting for, or travelling to, a worker, as the pool's state knows it: a value.
///
/// A work is a single job, a batch of quick single jobs that travel together, a chunk of a map (or the jobs of a
/// chunk that must run again after a crash inside it), or a worker's initializer. The state moves works between its
/// queue and its workers and counts what has been answered; it never calls their ``sink``, which it hands back in
/// its actions for the storage to resolve after the lock.
package struct PoolWork: Sendable {
    package enum Kind: Sendable {
        /// The pool's initializer, which every worker runs first and which resolves nothing.
        case initializer
        /// One submitted job; where its encoding starts in its bytes (see ``Frames/bytes(_:)``; 0 for a job kept
        /// ``Frames/inline(header:payload:)``), when it is small enough to join a batch of its kind. An offset, not
        /// a slice: a slice would be one more reference to the same bytes to retain and release wherever the work
        /// goes.
        case single(batchableFrom: Int?)
        /// Quick single jobs of one kind, joined into one message and answered in parts like a chunk.
        case batch([PoolWork])
        /// Jobs of a map's chunk: the data frame holding the whole chunk's array, which every message of the chunk
        /// carries, whether the pool times its jobs one by one, and the caller's trace context (empty if none).
        case chunk(data: OutgoingMessage, timed: Bool, context: [String: String])
    }

    /// The message's sequence number, which the worker's answers carry.
    package let sequence: UInt64
    /// The sequence number of the message the user's handle came with: the jobs of a chunk split after a crash
    /// travel in new messages but keep their root, by which cancelling finds them all.
    package let root: UInt64
    package let jobName: String
    package var kind: Kind
    /// The message's frames; see ``message``.
    package let frames: Frames
    /// The index of the message's first job among its root's jobs: zero but for the later parts of a chunk.
    package let offset: Int
    package let itemCount: Int
    package let timeout: Duration?
    /// What resolves the jobs' handle; nil for the initializer and for a batch, whose members have their own.
    package let sink: WorkSink?

    /// How many times the message's job ran and crashed its worker, for ``ProcessPoolConfiguration/crashRetries``:
    /// counted only for a message of one job, so a crash is never blamed on the jobs beside it.
    package var attempts = 0
    /// How many of the message's jobs the worker has answered, in order; the message is done at ``itemCount``.
    package var answered = 0
    /// Set once the job came back from a batch that failed as a whole, so it runs alone from then on.
    package var runsAlone = false
    /// Set when the handle was cancelled while the message was in flight: its jobs never run again.
    package var isCancelled = false
    /// When the message was submitted, while the pool measures waits; 0 otherwise.
    package var submittedAt: UInt64 = 0

    /// A message's frames as the work keeps them: a message; for a job whose frames are one array of bytes, that
    /// array; or for a small job, its encoding in the work itself. A quick job that travels in a batch never
    /// builds a message of its own, and a small one never allocates its bytes: each would be an allocation, and a
    /// free on another thread, for every job.
    package enum Frames: Sendable {
        case message(OutgoingMessage)
        case bytes([UInt8])
        /// A small single job: the header of its type (see `JobHeader.singleTemplate(jobName:)`), in which the
        /// work's sequence number is stamped when the job travels alone, and the job's encoding.
        case inline(header: [UInt8], payload: InlineJobBytes)

        /// The message to send, for a work whose sequence number is `sequence`.
        func message(sequence: UInt64) -> OutgoingMessage {
            switch self {
            case .message(let message):
                return message
            case .bytes(let bytes):
                var message = OutgoingMessage()
                message.appendSegment(bytes)
                return message
            case .inline(let header, let payload):
                var bytes: [UInt8] = []
                bytes.reserveCapacity(header.count + Frame.headerSize + payload.count)
                JobHeader.appendSingle(header, sequence: sequence, to: &bytes)
                Frame.appendHeader(kind: WorkerFrameKind.data, length: payload.count, to: &bytes)
                payload.append(to: &bytes)
                var message = OutgoingMessage()
                message.appendSegment(bytes)
                return message
            }
        }
    }

    /// The message to send when the work travels as it is.
    package var message: OutgoingMessage { frames.message(sequence: sequence) }

    /// Appends the work's message to `message`, without building one first for a job's bytes.
    package func appendMessage(to message: inout OutgoingMessage) {
        switch frames {
        case .message(let own): message.append(own)
        case .bytes(let bytes): message.appendSegment(OutgoingSegment(bytes))
        case .inline: message.append(frames.message(sequence: sequence))
        }
    }

    package var isInitializer: Bool {
        if case .initializer = kind { return true }
        return false
    }

    /// Whether the worker answers the message in parts, each covering some of its jobs with one outcome item.
    package var answersInParts: Bool {
        switch kind {
        case .batch, .chunk: return true
        case .initializer, .single: return false
        }
    }

    /// The size of a single job's encoding when the job may join a batch now (not after a crash, nor once it runs
    /// alone); nil otherwise. ``appendBatchablePayload(to:)`` appends the encoding.
    package var batchablePayloadCount: Int? {
        guard case .single(let start?) = kind, timeout == nil, attempts == 0, !runsAlone else { return nil }
        switch frames {
        case .bytes(let bytes): return bytes.count - start
        case .inline(_, let payload): return payload.count
        case .message: return nil
        }
    }

    /// Appends the encoding of a single job that may join a batch (see ``batchablePayloadCount``); appends nothing
    /// for any other work.
    package func appendBatchablePayload(to bytes: inout [UInt8]) {
        guard case .single(let start?) = kind else { return }
        switch frames {
        case .bytes(let own): bytes.append(contentsOf: own[start...])
        case .inline(_, let payload): payload.append(to: &bytes)
        case .message: break
        }
    }

    /// The time limit of each of its jobs: its own timeout, or `defaultTimeout` for jobs (not the initializer).
    package func limit(default defaultTimeout: Duration?) -> Duration? {
        timeout ?? (isInitializer ? nil : defaultTimeout)
    }

    /// The members of a batch; empty for every other kind.
    package var members: [PoolWork] {
        if case .batch(let members) = kind { return members }
        return []
    }

    /// The sinks to mark running when the message becomes the one its worker runs.
    package func forEachSink(_ body: (WorkSink) -> Void) {
        if let sink { body(sink) }
        guard case .batch(let members) = kind else { return }
        // By index, so that no member is copied whole.
        for index in members.indices where !members[index].isCancelled {
            if let sink = members[index].sink { body(sink) }
        }
    }
}

extension PoolWork {
    /// A submitted job, with the `handle` that its single-job sink resolves from the work (see ``WorkSink``).
    package init(
        sequence: UInt64,
        jobName: String,
        encoded: EncodedJobMessage,
        timeout: Duration?,
        sink: any PoolJobSink,
        handle: (any AnyObject & Sendable)? = nil
    ) {
        self.init(
            sequence: sequence,
            root: sequence,
            jobName: jobName,
            kind: .single(batchableFrom: encoded.batchablePayloadStart),
            frames: encoded.frames,
            offset: 0,
            itemCount: 1,
            timeout: timeout,
            sink: WorkSink(object: sink, handle: handle)
        )
    }

    /// A job message built elsewhere with `sequence` in its header, such as one an MPI rank forwards to its local
    /// pool: it runs alone, never in a batch.
    package static func forwarded(
        sequence: UInt64,
        jobName: String,
        message: OutgoingMessage,
        timeout: Duration?,
        sink: any PoolJobSink
    ) -> PoolWork {
        PoolWork(
            sequence: sequence,
            root: sequence,
            jobName: jobName,
            kind: .single(batchableFrom: nil),
            frames: .message(message),
            offset: 0,
            itemCount: 1,
            timeout: timeout,
            sink: WorkSink(object: sink)
        )
    }

    /// The pool's initializer job, which every worker runs before its first job.
    package static func initializer(jobName: String, encoded: EncodedJobMessage) -> PoolWork {
        PoolWork(
            sequence: 0,
            root: 0,
            jobName: jobName,
            kind: .initializer,
            frames: .message(encoded.message),
            offset: 0,
            itemCount: 1,
            timeout: nil,
            sink: nil
        )
    }

    /// A map's chunk of `count` jobs, whose array `data` holds, from index `first` on.
    package static func chunk(
        sequence: UInt64,
        root: UInt64,
        jobName: String,
        data: OutgoingMessage,
        first: Int,
        count: Int,
        timed: Bool,
        context: [String: String] = [:],
        timeout: Duration?,
        sink: any PoolJobSink
    ) -> PoolWork {
        var message = OutgoingMessage()
        message.appendEncodedFrames(
            JobMessages.chunkHeader(
                sequence: sequence, jobName: jobName, count: count, first: first, timed: timed, context: context
            )
        )
        message.append(data)
        return PoolWork(
            sequence: sequence,
            root: root,
            jobName: jobName,
            kind: .chunk(data: data, timed: timed, context: context),
            frames: .message(message),
            offset: first,
            itemCount: count,
            timeout: timeout,
            sink: WorkSink(object: sink)
        )
    }

    /// Quick single jobs of one kind as one message, answered in parts like a chunk: the array of their encodings.
    package static func batch(_ members: [PoolWork]) -> PoolWork {
        let first = members[0]
        var total = 4
        for member in members { total += member.batchablePayloadCount ?? 0 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(first.jobName.utf8.count + 2 * Frame.headerSize + 20 + total)
        JobHeader(sequence: first.sequence, count: UInt32(members.count), jobName: first.jobName, timed: false)
            .append(kind: WorkerFrameKind.chunk, to: &bytes)
        Frame.appendHeader(kind: WorkerFrameKind.data, length: total, to: &bytes)
        // The encoding of an array: its count, then each element as it encodes alone.
        withUnsafeBytes(of: UInt32(members.count).littleEndian) { bytes.append(contentsOf: $0) }
        for member in members { member.appendBatchablePayload(to: &bytes) }
        var message = OutgoingMessage()
        message.appendSegment(bytes)
        return PoolWork(
            sequence: first.sequence,
            // No handle's: cancelling finds the batch by its members' roots.
            root: .max,
            jobName: first.jobName,
            kind: .batch(members),
            frames: .message(message),
            offset: 0,
            itemCount: members.count,
            timeout: nil,
            sink: nil
        )
    }

    /// The works that run the jobs `range` of this message again, after a crash inside it, as messages whose
    /// sequence numbers come from `sequence`: the message itself when it is to run whole, the members of a batch
    /// each alone, and a chunk's jobs as a new message with the same data. Jobs whose handle was cancelled are left
    /// out.
    package func pieces(_ range: Range<Int>, sequence: inout UInt64) -> [PoolWork] {
        guard !range.isEmpty, !isCancelled else { return [] }
        switch kind {
        case .initializer, .single:
            return [self]
        case .batch(let members):
            return members[range].compactMap { member in
                guard !member.isCancelled else { return nil }
                var alone = member
                alone.runsAlone = true
                return alone
            }
        case .chunk(let data, let timed, let context):
            if range == 0..<itemCount && answered == 0 { return [self] }
            defer { sequence += 1 }
            return [
                PoolWork.chunk(
                    sequence: sequence,
                    root: root,
                    jobName: jobName,
                    data: data,
                    first: offset + range.lowerBound,
                    count: range.count,
                    timed: timed,
                    context: context,
                    timeout: timeout,
                    sink: sink!.object
                )
            ]
        }
    }
}

/// The encoding of a small job, kept in its work instead of an array of its own: submitting a job then allocates
/// nothing for its bytes, and the thread that sends it frees nothing. Up to ``capacity`` bytes.
package struct InlineJobBytes: Sendable {
    /// The most bytes kept.
    package static let capacity = 24

    private var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
    private var byteCount: UInt8

    /// The bytes of `source`, or `nil` when they are more than ``capacity``.
    package init?(_ source: UnsafeRawBufferPointer) {
        guard source.count <= Self.capacity else { return nil }
        byteCount = UInt8(source.count)
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
    }

    /// How many bytes are kept.
    package var count: Int { Int(byteCount) }

    /// Appends the bytes kept to `bytes`.
    package func append(to bytes: inout [UInt8]) {
        // Rebased, so that the append copies the bytes at once rather than element by element through a slice.
        withUnsafeBytes(of: storage) { kept in
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: kept.prefix(Int(byteCount))))
        }
    }
}

/// What resolves the jobs of a message once the worker has answered: it decodes the worker's items and resolves
/// the user's handle. The pool's state holds sinks without ever calling them; the storage calls them after the
/// state's lock is released, on the thread of the worker's driver.
///
/// A sink resolves a handle of its own (a map's chunk), or is shared by the single jobs of one type, each work
/// keeping its job's handle beside it (see ``WorkSink``): then `handle` is that handle, and nil otherwise.
///
/// Job indices are the root's: a single job is job 0; a chunk's jobs count from its first.
package protocol PoolJobSink: AnyObject, Sendable {
    /// Marks the handle running: the job has gone to a worker with nothing ahead of it.
    func markRunning(handle: (any AnyObject & Sendable)?)

    /// Decodes the worker's items for the jobs `first..<first + count` and resolves what they complete. Returns
    /// whether the sink's other jobs need not run any more (an ordered map that met its first failure).
    func deliver(_ items: [ReceivedFrame], first: Int, count: Int, handle: (any AnyObject & Sendable)?) -> Bool

    /// Fails the jobs `range` with `error`. Returns whether the sink's other jobs need not run any more.
    func fail(_ error: any Error, jobs range: Range<Int>, handle: (any AnyObject & Sendable)?) -> Bool

    /// Decodes one outcome item that answers `members`, single jobs of this sink's own kind that travelled in one
    /// batch, and resolves each of them through its sink.
    func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>)
}

/// A sink that resolves a handle of its own (a map's chunk, a message a rank forwards), so that it needs none from
/// its work: it answers ``PoolJobSink``'s calls without one.
package protocol PoolOwnJobSink: PoolJobSink {
    /// See ``PoolJobSink/markRunning(handle:)``.
    func markRunning()
    /// See ``PoolJobSink/deliver(_:first:count:handle:)``.
    func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool
    /// See ``PoolJobSink/fail(_:jobs:handle:)``.
    func fail(_ error: any Error, jobs range: Range<Int>) -> Bool
}

extension PoolOwnJobSink {
    package func markRunning(handle: (any AnyObject & Sendable)?) { markRunning() }

    package func deliver(
        _ items: [ReceivedFrame], first: Int, count: Int, handle: (any AnyObject & Sendable)?
    ) -> Bool {
        deliver(items, first: first, count: count)
    }

    package func fail(_ error: any Error, jobs range: Range<Int>, handle: (any AnyObject & Sendable)?) -> Bool {
        fail(error, jobs: range)
    }
}

/// A work's sink as the work keeps it: the sink, and the handle of the work's single job when the sink is shared
/// by the jobs of its type. A shared sink costs a job no allocation of its own, and its handle no lock turn to
/// learn its controller (the sink; see `JobController`).
package struct WorkSink: Sendable {
    package let object: any PoolJobSink
    package let handle: (any AnyObject & Sendable)?

    package init(object: any PoolJobSink, handle: (any AnyObject & Sendable)? = nil) {
        self.object = object
        self.handle = handle
    }

    /// See ``PoolJobSink/markRunning(handle:)``.
    package func markRunning() { object.markRunning(handle: handle) }

    /// See ``PoolJobSink/deliver(_:first:count:handle:)``.
    package func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        object.deliver(items, first: first, count: count, handle: handle)
    }

    /// See ``PoolJobSink/fail(_:jobs:handle:)``.
    package func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        object.fail(error, jobs: range, handle: handle)
    }

    /// See ``PoolJobSink/deliverBatch(_:to:)``.
    package func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        object.deliverBatch(item, to: members)
    }
}
