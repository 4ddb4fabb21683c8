import TriadCore

/// Building the messages that carry jobs to a worker, and turning a worker's result items back into outputs and
/// errors: the two ends of the worker protocol on the parent's side, shared by the pool and `Process`.
package enum JobMessages {
    /// Builds the message of one job, or fails with a coding error.
    ///
    /// The job is encoded straight after its frame headers in one buffer, whose length field is filled in
    /// afterwards, so it is encoded once and never copied; its large arrays stay out of the buffer and travel from
    /// their own storage (see `WireChunk`). The job is taken alone rather than in a one-element collection: at run
    /// time, iterating a generic collection asks the runtime for type metadata at every step.
    ///
    /// A message with a trace `context` never joins a batch: a batch's jobs share one header. The job type's
    /// `template`, if the executor keeps it, saves writing the header field by field when there is no context, and
    /// looking up the job type's path through the codec.
    package static func single<J: Job>(
        _ job: J,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int,
        context: [String: String] = [:],
        template: SingleJobTemplate? = nil
    ) throws(ExecutorError) -> EncodedJobMessage {
        if context.isEmpty, let template {
            return try single(job, template: template, sequence: sequence, maxFrameSize: maxFrameSize)
        }
        var bytes: [UInt8] = []
        // Room for the header, the data frame's header and a small job, so that a tiny job's bytes never grow.
        bytes.reserveCapacity(Frame.headerSize + 32 + name.utf8.count + Frame.headerSize + 64)
        JobHeader(sequence: sequence, count: 1, jobName: name, context: context)
            .append(kind: WorkerFrameKind.job, to: &bytes)
        var payloadStart = bytes.count
        var chunks: [WireChunk] = []
        try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
            bytes throws(WireError) in
            payloadStart = bytes.count
            // A traced job of a type with a template keeps to its plan; without one, making a plan for a single
            // job would cost an allocation more than the path look-up it saves.
            guard let plan = template?.encodingPlan else {
                return try WireEncoder().encode(job, appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
            }
            return try WireEncoder().encode(
                job, plan: plan, appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum
            )
        }
        return EncodedJobMessage(bytes: bytes, payloadStart: payloadStart, chunks: chunks, traced: !context.isEmpty)
    }

    /// A single job's message built with its type's `template`, without a trace context: a small job's encoding
    /// is kept apart from its header (see `InlineJobBytes`), encoded in the template's spare buffer, so that it
    /// allocates nothing; a larger one's message is whole, as without a template.
    ///
    /// The spare buffer keeps the type's header and the data frame's header from the job before, which a small job
    /// does not need, so only the encoding is written: appending and stamping both headers for each job had cost
    /// a fifth of encoding a tiny job. A larger job stamps its sequence number and length into them, and its
    /// message takes the buffer.
    private static func single<J: Job>(
        _ job: J,
        template: SingleJobTemplate,
        sequence: UInt64,
        maxFrameSize: Int
    ) throws(ExecutorError) -> EncodedJobMessage {
        let scratch = template.takeScratch()
        defer { template.keepScratch(scratch) }
        var bytes: [UInt8] = []
        swap(&bytes, &scratch.bytes)
        let headerStart = template.header.count
        let payloadStart = headerStart + Frame.headerSize
        if bytes.count >= payloadStart {
            // Left by the job before, whose encoding alone came after the headers.
            bytes.removeSubrange(payloadStart...)
        } else {
            bytes.removeAll(keepingCapacity: true)
            // Room for a small job, so that a tiny job's bytes never grow.
            bytes.reserveCapacity(payloadStart + 64)
            bytes.append(contentsOf: template.header)
            Frame.appendHeader(kind: WorkerFrameKind.data, length: 0, to: &bytes)
        }
        let borrowed: [WireChunk]
        do {
            borrowed = try WireEncoder().encode(
                job, plan: template.encodingPlan, appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum
            )
        } catch {
            throw ExecutorError.unencodable(jobName: template.jobName, underlying: error)
        }
        if borrowed.isEmpty,
            let payload = bytes.withUnsafeBytes({ InlineJobBytes(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) })
        {
            // The buffer, headers and all, goes back to the template for the next job.
            swap(&bytes, &scratch.bytes)
            return EncodedJobMessage(bytes: template.header, payloadStart: 0, inline: (payload, sequence))
        }
        let length = bytes.count - payloadStart + borrowed.reduce(0) { $0 + $1.bytes.count }
        guard length <= maxFrameSize, length <= Int(UInt32.max) else {
            throw ExecutorError.oversized(jobName: template.jobName, bytes: length, limit: maxFrameSize)
        }
        bytes.withUnsafeMutableBytes { raw in
            // The sequence is the job header's first field; the data frame's length is at offset 8 of its header.
            raw.storeBytes(of: sequence.littleEndian, toByteOffset: Frame.headerSize, as: UInt64.self)
            raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: headerStart + 8, as: UInt32.self)
        }
        // The message keeps the buffer: the template's next job makes its own.
        return EncodedJobMessage(bytes: bytes, payloadStart: payloadStart, chunks: borrowed)
    }

    /// Builds the data frame of a chunk of jobs, encoded as one array, or fails with a coding error. Its header
    /// comes apart (see ``chunkHeader(sequence:jobName:count:first:timed:)``), so the jobs of a chunk split after a
    /// crash travel again with the same data frame.
    package static func chunkData<J: Job>(
        _ jobs: ArraySlice<J>,
        named name: String,
        maxFrameSize: Int
    ) throws(ExecutorError) -> OutgoingMessage {
        var bytes: [UInt8] = []
        var chunks: [WireChunk] = []
        try appendDataFrame(to: &bytes, chunks: &chunks, jobName: name, maxFrameSize: maxFrameSize) {
            bytes throws(WireError) in
            try WireEncoder().encode(Array(jobs), appendingTo: &bytes, borrowingFrom: OutgoingMessage.borrowMinimum)
        }
        var message = OutgoingMessage()
        message.appendInterleaved(bytes, chunks: chunks)
        return message
    }

    /// The header frame of a chunk message that runs `count` jobs of its data frame's array from index `first`,
    /// with the caller's trace `context`, if any.
    package static func chunkHeader(
        sequence: UInt64,
        jobName: String,
        count: Int,
        first: Int,
        timed: Bool,
        context: [String: String] = [:]
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Frame.headerSize + 20 + jobName.utf8.count)
        JobHeader(
            sequence: sequence, count: UInt32(count), jobName: jobName, timed: timed, first: UInt32(first),
            context: context
        ).append(kind: WorkerFrameKind.chunk, to: &bytes)
        return bytes
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
            if !borrowed.isEmpty { chunks.append(contentsOf: borrowed) }
        } catch {
            throw ExecutorError.unencodable(jobName: jobName, underlying: error)
        }
        let length = bytes.count - headerStart - Frame.headerSize + borrowedBytes
        guard length <= maxFrameSize, length <= Int(UInt32.max) else {
            throw ExecutorError.oversized(jobName: jobName, bytes: length, limit: maxFrameSize)
        }
        // The header keeps its little-endian payload length at offset 8.
        withUnsafeBytes(of: UInt32(length).littleEndian) { field in
            for (offset, byte) in field.enumerated() { bytes[headerStart + 8 + offset] = byte }
        }
    }

    /// Turns one result item from a worker into the job's output or error.
    package static func decode<Output: Decodable>(
        _ item: ReceivedFrame,
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
                return .failure(ExecutorError.undecodableOutput(jobName: jobName, underlying: error))
            }
        }
        return .failure(remoteError(item, jobName: jobName, registry: registry))
    }

    /// Turns the item of a part of a chunk or batch into its outcome, checking that it covers `count` jobs: a
    /// mismatch or an item that does not decode comes back as the one error of every job of the part.
    package static func outcome<Output: Codable & Sendable>(
        _ item: ReceivedFrame,
        of _: Output.Type,
        count: Int,
        jobName: String,
        registry: JobRegistry
    ) -> Result<WireBatchOutcome<Output>, any Error> {
        switch decode(item, as: WireBatchOutcome<Output>.self, jobName: jobName, registry: registry) {
        case .success(let outcome) where outcome.outputs.count + outcome.failures.count == count:
            return .success(outcome)
        case .success(let outcome):
            return .failure(
                ExecutorError.outcomeCountMismatch(
                    jobName: jobName,
                    jobs: count,
                    outcomes: outcome.outputs.count + outcome.failures.count
                )
            )
        case .failure(let error):
            return .failure(error)
        }
    }

    /// The error a worker sent in a failure item: the job's own error when the registry can decode it, or what the
    /// worker's protocol errors mean.
    /// The code, for metrics, of the failure a worker reported as `wire`: as ``remoteError(_:jobName:registry:)``
    /// would type it, without decoding the error itself.
    package static func failureCode(_ wire: WireJobError) -> String {
        switch wire.typeName {
        case String(reflecting: WireError.self): ExecutorError.Code.codingFailed.rawValue
        case String(reflecting: ExecutorError.self): ExecutorError.Code.unknownJob.rawValue
        default: PoolMetrics.jobErrorCode
        }
    }

    package static func remoteError(_ item: ReceivedFrame, jobName: String, registry: JobRegistry) -> any Error {
        guard let wire = remoteWireError(item) else { return ExecutorError.unreadableError(jobName: jobName) }
        let remote = RemoteJobError(jobName: jobName, typeName: wire.typeName, errorDescription: wire.description)
        switch wire.typeName {
        case String(reflecting: WireError.self):
            return ExecutorError.workerCodingFailed(jobName: jobName, remote)
        case String(reflecting: ExecutorError.self):
            return ExecutorError.unregisteredInWorker(jobName: jobName, remote)
        default:
            return registry.error(from: wire, jobName: jobName)
        }
    }

    /// The encoded error of a failure item, if it decodes.
    package static func remoteWireError(_ item: ReceivedFrame) -> WireJobError? {
        try? item.withPayloadBytes { bytes throws(WireError) in try WireDecoder().decode(WireJobError.self, from: bytes) }
    }
}

/// A job message: its bytes, where the encoding of its job starts in them, and the large arrays that travel from
/// their own storage (see `WireChunk`); or, for a small job encoded with its type's template, the template's header
/// and the job's encoding apart (see `PoolWork.Frames.inline(header:payload:)`).
package struct EncodedJobMessage: Sendable {
    /// The message's bytes; for a job kept ``inline``, its type's header, with no sequence number stamped in.
    package var bytes: [UInt8]
    /// Where the job's encoding starts in ``bytes``; 0 for a job kept ``inline``.
    package var payloadStart: Int
    package var chunks: [WireChunk] = []
    /// Whether the header carries a trace context, which a batch's shared header could not.
    package var traced = false
    /// A small job's encoding and the message's sequence number, when they are kept apart from the header.
    package var inline: (payload: InlineJobBytes, sequence: UInt64)?

    package var message: OutgoingMessage {
        if let inline { return frames.message(sequence: inline.sequence) }
        var message = OutgoingMessage()
        message.appendInterleaved(bytes, chunks: chunks)
        return message
    }

    /// The frames as a work keeps them: the encoding apart from the header for a job kept ``inline``, the bytes
    /// alone when no array travels out of line, a message otherwise.
    package var frames: PoolWork.Frames {
        if let inline { return .inline(header: bytes, payload: inline.payload) }
        return chunks.isEmpty ? .bytes(bytes) : .message(message)
    }

    /// Where the job's own encoding starts in ``bytes`` when it may travel in a batch with others of its kind (only
    /// a small job with no array out of line), or nil when it may not.
    package var batchablePayloadStart: Int? {
        if inline != nil { return 0 }
        guard chunks.isEmpty, !traced, bytes.count - payloadStart <= 1024 else { return nil }
        return payloadStart
    }
}
