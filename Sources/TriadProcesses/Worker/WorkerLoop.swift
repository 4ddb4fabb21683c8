import TriadCore

/// The transport-agnostic heart of a worker: receive job messages, run them through the registry, send results.
///
/// It knows frames and the registry, nothing about pipes or processes, so any transport that moves frames (the
/// socketpair of a pool worker, an MPI rank, a shared-memory ring) runs jobs the same way. Jobs run one after
/// another, in the order they arrive. Results of quick jobs are sent together: before the loop waits for more
/// work, when they pile up, when the oldest has waited half a millisecond, or before a job of a kind that has not
/// been quick so far. The sink marks each job as it starts, so a parent that loses the worker still knows which
/// job was running.
struct WorkerLoop: Sendable {
    /// Why the loop stopped before its source ended.
    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    let registry: JobRegistry

    /// Runs jobs until the source ends. Returns normally at a clean end of stream.
    ///
    /// - Throws: ``ProtocolError`` or the source's error when the parent sent something that is not a job, or
    ///   ``TransportError`` when the transport failed.
    func run<Source: FrameSource, Sink: FrameSink>(source: inout Source, sink: inout Sink) async throws {
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
            var message = OutgoingMessage()
            var resultHeader: [UInt8] = []
            ResultHeader(sequence: header.sequence, count: isBatch ? 1 : header.count).append(to: &resultHeader)
            message.appendEncodedFrames(resultHeader)
            for _ in 0..<(isBatch ? 1 : header.count) {
                guard let data = try source.receive(), data.sentKind == WorkerFrameKind.data else {
                    throw ProtocolError(description: "job \(header.jobName) came without its data frame")
                }
                // Hold results back only while the next job is known to be quick: results held while a long job
                // runs would wait for all of it.
                if !pending.isEmpty
                    && (pending.byteCount > 1 << 16 || ContinuousClock.now - oldestPending > .microseconds(500)
                        || !durations.isQuick(header.jobName, count: isBatch ? Int(header.count) : 1))
                {
                    try sink.send(pending)
                    pending = OutgoingMessage()
                }
                sink.jobWillStart(sequence: header.sequence)
                let started = ContinuousClock.now
                // Decoded where the payload lies (a shared lane, maybe), which is let go before the job runs.
                let prepared = data.withPayloadBytes { bytes in
                    registry.prepare(jobName: header.jobName, input: bytes, batch: isBatch)
                }
                source.release(data)
                let outcome: Result<WireEncoded, WireJobError>
                switch prepared {
                case .success(let job): outcome = await job.run(registry: registry, borrowingFrom: sink.borrowMinimum)
                case .failure(let error): outcome = .failure(error)
                }
                durations.record(header.jobName, ContinuousClock.now - started, count: isBatch ? Int(header.count) : 1)
                switch outcome {
                case .success(let output):
                    message.appendFrame(kind: WorkerFrameKind.data, flags: ResultFlag.success, encoded: output)
                case .failure(let error):
                    message.appendFrame(kind: WorkerFrameKind.data, flags: ResultFlag.failure, payload: encode(error))
                }
            }
            if pending.isEmpty { oldestPending = ContinuousClock.now }
            pending.append(message)
        }
        if !pending.isEmpty { try sink.send(pending) }
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
