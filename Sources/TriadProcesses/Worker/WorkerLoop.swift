import TriadCore

/// The transport-agnostic heart of a worker: receive job messages, run them through the registry, send results.
///
/// It knows frames and the registry, nothing about pipes or processes, so any transport that moves frames (the
/// socketpair of a pool worker, an MPI rank, a shared-memory ring) runs jobs the same way. Jobs run one after
/// another, in the order they arrive. Results of quick jobs are sent together: before the loop waits for more
/// work, when they pile up, when the oldest has waited half a millisecond, or before a job of a kind that has not
/// been quick so far. The sink marks each job as it starts, so a parent that loses the worker still knows which
/// job was running.
package struct WorkerLoop: Sendable {
    /// Why the loop stopped before its source ended.
    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    let registry: JobRegistry

    package init(registry: JobRegistry) {
        self.registry = registry
    }

    /// Runs jobs until the source ends. Returns normally at a clean end of stream.
    ///
    /// - Throws: ``ProtocolError`` or the source's error when the parent sent something that is not a job, or
    ///   ``TransportError`` when the transport failed.
    package func run<Source: FrameSource, Sink: FrameSink>(source: inout Source, sink: inout Sink) async throws {
        var pending = OutgoingMessage()
        var oldestPending = ContinuousClock.now
        var durations = JobDurations()
        while true {
            if !pending.isEmpty && !source.hasBufferedFrame {
                try sink.send(pending)
                pending = OutgoingMessage()
            }
            guard let frame = try source.receive() else { break }
            guard frame.kind == WorkerFrameKind.job || frame.kind == WorkerFrameKind.chunk else {
                throw ProtocolError(description: "expected a job frame, got a frame of kind \(frame.kind)")
            }
            guard let header = JobHeader(payload: frame.payload) else {
                throw ProtocolError(description: "a job header of \(frame.payload.count) bytes is malformed")
            }
            let isBatch = frame.kind == WorkerFrameKind.chunk
            if isBatch {
                try await runChunk(header, source: &source, sink: &sink, pending: &pending, durations: &durations,
                                   oldestPending: &oldestPending)
                continue
            }
            var message = OutgoingMessage()
            var resultHeader: [UInt8] = []
            ResultHeader(sequence: header.sequence, count: header.count, first: 0, jobs: header.count)
                .append(to: &resultHeader)
            message.appendEncodedFrames(resultHeader)
            let span = WorkerSpan(jobName: header.jobName, context: header.context, jobs: Int(header.count))
            var failure: WireJobError?
            for ordinal in 0..<Int(header.count) {
                guard let data = try source.receive(), data.kind == WorkerFrameKind.data else {
                    throw ProtocolError(description: "job \(header.jobName) came without its data frame")
                }
                try flushBeforeJob(header.jobName, count: 1, sink: &sink, pending: &pending,
                                   durations: durations, oldestPending: oldestPending)
                sink.jobWillStart(sequence: header.sequence, ordinal: ordinal, timed: header.timed)
                let started = ContinuousClock.now
                // Decoded where the payload lies (a shared lane, maybe), which is let go before the job runs.
                let prepared = data.withPayloadBytes { bytes in
                    registry.prepare(jobName: header.jobName, input: bytes, batch: false)
                }
                source.release(data)
                let outcome: Result<WireEncoded, WireJobError>
                switch prepared {
                case .success(let job):
                    let borrowMinimum = sink.borrowMinimum
                    outcome = await span.run { await job.run(registry: registry, borrowingFrom: borrowMinimum) }
                case .failure(let error): outcome = .failure(error)
                }
                durations.record(header.jobName, ContinuousClock.now - started, count: 1)
                if case .failure(let error) = outcome { failure = error }
                append(outcome, to: &message)
            }
            span.end(failure: failure)
            if pending.isEmpty { oldestPending = ContinuousClock.now }
            pending.append(message)
        }
        if !pending.isEmpty { try sink.send(pending) }
    }

    /// The longest a part of a chunk runs before its results go to the parent: progress and results then flow
    /// job by job for slow jobs and every millisecond or so for quick ones.
    static let partBudget: Duration = .milliseconds(1)

    /// Runs a chunk's jobs in order, in parts of about ``partBudget``, marking each job as it starts. Every part
    /// but the last goes to the parent at once; the last waits with other results like a single job's. The chunk's
    /// jobs are `header.count` jobs of its array from index `header.first`; ordinals, in the marks and the answers,
    /// count from that first job, as the parent's message does.
    private func runChunk<Source: FrameSource, Sink: FrameSink>(
        _ header: JobHeader,
        source: inout Source,
        sink: inout Sink,
        pending: inout OutgoingMessage,
        durations: inout JobDurations,
        oldestPending: inout ContinuousClock.Instant
    ) async throws {
        guard let data = try source.receive(), data.kind == WorkerFrameKind.data else {
            throw ProtocolError(description: "chunk \(header.jobName) came without its data frame")
        }
        let count = Int(header.count)
        let base = Int(header.first)
        try flushBeforeJob(header.jobName, count: count, sink: &sink, pending: &pending, durations: durations,
                           oldestPending: oldestPending)
        sink.jobWillStart(sequence: header.sequence, ordinal: 0, timed: header.timed)
        let started = ContinuousClock.now
        let span = WorkerSpan(jobName: header.jobName, context: header.context, jobs: count)
        var failure: WireJobError?
        defer { span.end(failure: failure) }
        let prepared = data.withPayloadBytes { bytes in
            registry.prepare(jobName: header.jobName, input: bytes, batch: true)
        }
        source.release(data)
        guard case .success(let job) = prepared, base + count <= job.jobCount else {
            // The chunk as a whole failed (it did not decode, or holds fewer jobs than its header names): one answer
            // for all.
            var message = OutgoingMessage()
            let error: WireJobError
            switch prepared {
            case .failure(let failure): error = failure
            case .success(let job):
                error = WireJobError(
                    typeName: String(reflecting: WireError.self),
                    description: "the chunk holds \(job.jobCount) jobs, its header names jobs \(base)..<\(base + count)",
                    payload: nil
                )
            }
            failure = error
            appendHeader(sequence: header.sequence, first: 0, jobs: count, to: &message)
            append(.failure(error), to: &message)
            if pending.isEmpty { oldestPending = ContinuousClock.now }
            pending.append(message)
            return
        }
        var next = 0
        while next < count {
            let partStart = ContinuousClock.now
            let first = next
            // The clock is read every `checkEvery` jobs, fewer reads the quicker the jobs.
            var checkEvery = 1
            var sinceCheck = 0
            let borrowMinimum = sink.borrowMinimum
            // A copy for the closure below: calling the `inout` sink from it loads a copy of it, its references
            // retained and released, for every job.
            let starts = sink
            let (outcome, end) = await span.run {
                await job.runPart(
                    from: base + first,
                    to: base + count,
                    registry: registry,
                    borrowingFrom: borrowMinimum
                ) { index in
                    let ordinal = index - base
                    if ordinal > first {
                        starts.jobWillStart(sequence: header.sequence, ordinal: ordinal, timed: header.timed)
                    }
                    guard ordinal > first else { return true }
                    sinceCheck += 1
                    guard sinceCheck >= checkEvery else { return true }
                    sinceCheck = 0
                    let elapsed = ContinuousClock.now - partStart
                    if elapsed >= Self.partBudget { return false }
                    let perJob = elapsed / (ordinal - first)
                    checkEvery = perJob < .microseconds(1) ? min(1024, checkEvery * 2) : 1
                    return true
                }
            }
            var message = OutgoingMessage()
            appendHeader(sequence: header.sequence, first: first, jobs: end - base - first, to: &message)
            if case .failure(let error) = outcome { failure = error }
            append(outcome, to: &message)
            next = end - base
            if pending.isEmpty { oldestPending = ContinuousClock.now }
            pending.append(message)
            if next < count {
                try sink.send(pending)
                pending = OutgoingMessage()
            }
        }
        durations.record(header.jobName, ContinuousClock.now - started, count: count)
    }

    /// Sends the results held back unless the next job is known to be quick: results held while a long job runs
    /// would wait for all of it.
    private func flushBeforeJob<Sink: FrameSink>(
        _ jobName: String,
        count: Int,
        sink: inout Sink,
        pending: inout OutgoingMessage,
        durations: JobDurations,
        oldestPending: ContinuousClock.Instant
    ) throws {
        guard !pending.isEmpty else { return }
        if pending.byteCount > 1 << 16 || ContinuousClock.now - oldestPending > .microseconds(500)
            || !durations.isQuick(jobName, count: count)
        {
            try sink.send(pending)
            pending = OutgoingMessage()
        }
    }

    private func appendHeader(sequence: UInt64, first: Int, jobs: Int, to message: inout OutgoingMessage) {
        var bytes: [UInt8] = []
        ResultHeader(sequence: sequence, count: 1, first: UInt32(first), jobs: UInt32(jobs)).append(to: &bytes)
        message.appendEncodedFrames(bytes)
    }

    private func append(_ outcome: Result<WireEncoded, WireJobError>, to message: inout OutgoingMessage) {
        switch outcome {
        case .success(let output):
            message.appendFrame(kind: WorkerFrameKind.data, flags: ResultFlag.success, encoded: output)
        case .failure(let error):
            message.appendFrame(kind: WorkerFrameKind.data, flags: ResultFlag.failure, payload: encode(error))
        }
    }

    /// How long each kind of job has been taking, to tell whether results may wait for the next job.
    struct JobDurations {
        /// Below this many nanoseconds per message, on average, a job counts as quick.
        static let quickNanoseconds: Double = 200_000
        private var averages: [String: Double] = [:]

        /// Whether `count` jobs named `jobName` are expected to take less than ``quickNanoseconds`` together. A kind
        /// of job not seen yet is not.
        func isQuick(_ jobName: String, count: Int) -> Bool {
            guard let average = averages[jobName] else { return false }
            return average * Double(count) < Self.quickNanoseconds
        }

        /// Records that `count` jobs named `jobName` took `elapsed`.
        mutating func record(_ jobName: String, _ elapsed: Duration, count: Int) {
            let (seconds, attoseconds) = elapsed.components
            let perJob = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(max(1, count))
            averages[jobName] = averages[jobName].map { $0 * 0.8 + perJob * 0.2 } ?? perJob
        }
    }

    private func encode(_ error: WireJobError) -> [UInt8] {
        if let bytes = try? WireEncoder().encode(error) { return bytes }
        let fallback = WireJobError(typeName: error.typeName, description: error.description, payload: nil)
        return (try? WireEncoder().encode(fallback)) ?? []
    }
}
