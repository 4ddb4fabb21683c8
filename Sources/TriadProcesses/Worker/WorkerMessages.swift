import TriadCore

// The messages between a pool and its workers. Every message is a header frame followed by its data frames, whose
// payloads are exactly the encoded values, so a large input or output travels without being sliced or copied out
// of a bigger buffer. The same messages serve any transport that carries frames: pipes now, MPI or a shared-memory
// ring later.

/// The kinds of frames the worker protocol uses.
package enum WorkerFrameKind {
    /// Worker to parent, first: protocol version, binary identity and pid.
    package static let hello: UInt8 = 1
    /// Parent to worker: sequence number and job name, followed by one data frame with the encoded job.
    package static let job: UInt8 = 2
    /// Parent to worker: sequence number, job name, count and first index, followed by one data frame with the
    /// encoded array of jobs. The worker runs `count` of them in order from the first index and answers in parts:
    /// each a result whose one data frame holds the outcome of the jobs the part covers. A chunk whose jobs must run
    /// again after a crash inside it travels again with the same data frame and another first index and count.
    package static let chunk: UInt8 = 3
    /// Worker to parent: sequence number, item count and the jobs covered (the first's index in its message and
    /// how many), followed by that many data frames.
    package static let result: UInt8 = 4
    /// The payload of a message; for results, flags say whether it is an output or an error.
    package static let data: UInt8 = 5
}

/// The flags of a result's data frame.
package enum ResultFlag {
    package static let success: UInt8 = 0
    package static let failure: UInt8 = 1
}

/// What a worker says first, so the parent can refuse a worker built from another binary or protocol.
package struct WorkerHello: Codable, Sendable, Hashable {
    /// The worker protocol's version. It changes whenever the meaning of a message changes.
    package static let currentVersion: UInt32 = 3

    package var version: UInt32
    package var identity: UInt64
    package var pid: Int32

    package init(version: UInt32 = WorkerHello.currentVersion, identity: UInt64, pid: Int32) {
        self.version = version
        self.identity = identity
        self.pid = pid
    }

    /// The whole hello frame, ready to write.
    package var frameBytes: [UInt8] {
        // Encoding three integers cannot fail.
        // swiftlint:disable:next force_try
        Frame(kind: WorkerFrameKind.hello, payload: try! WireEncoder().encode(self)).encoded
    }
}

/// The header of a job or chunk message: which job, and which sequence number its result must carry.
package struct JobHeader: Equatable {
    package var sequence: UInt64
    package var count: UInt32
    package var jobName: String
    /// Whether the parent times the jobs: the worker then notes when each one starts, not only which.
    package var timed: Bool
    /// For a chunk, the index in its data frame's array of the first job to run; zero for a single job.
    package var first: UInt32

    /// The header frame's payload: sequence (8 bytes), count (4 bytes), flags (4 bytes), first index (4 bytes),
    /// then the job name in UTF-8.
    package func append(kind: UInt8, to bytes: inout [UInt8]) {
        var name = jobName
        name.withUTF8 { nameBytes in
            Frame.appendHeader(kind: kind, length: 20 + nameBytes.count, to: &bytes)
            appendInteger(sequence, to: &bytes)
            appendInteger(count, to: &bytes)
            appendInteger(timed ? UInt32(1) : 0, to: &bytes)
            appendInteger(first, to: &bytes)
            bytes.append(contentsOf: nameBytes)
        }
    }

    package init(sequence: UInt64, count: UInt32, jobName: String, timed: Bool = true, first: UInt32 = 0) {
        self.sequence = sequence
        self.count = count
        self.jobName = jobName
        self.timed = timed
        self.first = first
    }

    package init?(payload: [UInt8]) {
        guard payload.count >= 20 else { return nil }
        sequence = readInteger(payload, at: 0)
        count = readInteger(payload, at: 8)
        timed = (readInteger(payload, at: 12) as UInt32) & 1 != 0
        first = readInteger(payload, at: 16)
        jobName = String(decoding: payload[20...], as: UTF8.self)
    }
}

/// The header of a result message: which message it answers, how many data frames follow, and which of the
/// message's jobs it covers (all of a single job's; a part of a chunk's).
package struct ResultHeader: Equatable {
    package var sequence: UInt64
    package var count: UInt32
    /// The index, in its message, of the first job covered.
    package var first: UInt32
    /// How many jobs are covered.
    package var jobs: UInt32

    package func append(to bytes: inout [UInt8]) {
        Frame.appendHeader(kind: WorkerFrameKind.result, length: 20, to: &bytes)
        appendInteger(sequence, to: &bytes)
        appendInteger(count, to: &bytes)
        appendInteger(first, to: &bytes)
        appendInteger(jobs, to: &bytes)
    }

    package init(sequence: UInt64, count: UInt32, first: UInt32 = 0, jobs: UInt32 = 1) {
        self.sequence = sequence
        self.count = count
        self.first = first
        self.jobs = jobs
    }

    package init?(payload: [UInt8]) {
        guard payload.count == 20 else { return nil }
        sequence = readInteger(payload, at: 0)
        count = readInteger(payload, at: 8)
        first = readInteger(payload, at: 12)
        jobs = readInteger(payload, at: 16)
    }
}

/// The job a worker started last, as its progress page tells: which message, which job of it, and when it started
/// (for timed messages; otherwise the time of an earlier timed job, or zero).
struct StartedJob: Equatable {
    var sequence: UInt64
    var ordinal: Int
    var startNanoseconds: UInt64
}

@inline(__always)
func appendInteger<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

@inline(__always)
func readInteger<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
}
