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
    package static let currentVersion: UInt32 = 5

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
    /// The caller's trace context, as the tracing instrument injected it (W3C `traceparent`, say), so that the
    /// worker's span joins the caller's trace; empty when the job is not traced, and then absent from the header.
    package var context: [String: String]

    /// The flag bits: the jobs are timed; a context follows the fixed fields.
    private static let timedFlag: UInt32 = 1
    private static let contextFlag: UInt32 = 2

    /// The header frame's payload: sequence (8 bytes), count (4 bytes), flags (4 bytes), first index (4 bytes);
    /// with a context, its byte length (4 bytes) and its fields (a 2-byte count, then each key and value as a
    /// 2-byte length and UTF-8); then the job name in UTF-8.
    package func append(kind: UInt8, to bytes: inout [UInt8]) {
        let contextBytes = context.isEmpty ? [] : Self.encode(context)
        var name = jobName
        name.withUTF8 { nameBytes in
            let contextLength = contextBytes.isEmpty ? 0 : 4 + contextBytes.count
            Frame.appendHeader(kind: kind, length: 20 + contextLength + nameBytes.count, to: &bytes)
            appendInteger(sequence, to: &bytes)
            appendInteger(count, to: &bytes)
            appendInteger((timed ? Self.timedFlag : 0) | (contextBytes.isEmpty ? 0 : Self.contextFlag), to: &bytes)
            appendInteger(first, to: &bytes)
            if !contextBytes.isEmpty {
                appendInteger(UInt32(contextBytes.count), to: &bytes)
                bytes.append(contentsOf: contextBytes)
            }
            bytes.append(contentsOf: nameBytes)
        }
    }

    package init(
        sequence: UInt64,
        count: UInt32,
        jobName: String,
        timed: Bool = true,
        first: UInt32 = 0,
        context: [String: String] = [:]
    ) {
        self.sequence = sequence
        self.count = count
        self.jobName = jobName
        self.timed = timed
        self.first = first
        self.context = context
    }

    /// The header frame of a single job named `jobName`, with no trace context and sequence 0: only the sequence
    /// differs from one such job to the next, so a pool builds it once per job type and stamps each job's sequence
    /// into a copy (``appendSingle(_:sequence:to:)``) instead of writing the fields and the name every time.
    package static func singleTemplate(jobName: String) -> [UInt8] {
        var bytes: [UInt8] = []
        JobHeader(sequence: 0, count: 1, jobName: jobName).append(kind: WorkerFrameKind.job, to: &bytes)
        return bytes
    }

    /// Appends a copy of `template` (from ``singleTemplate(jobName:)``) with `sequence` stamped in: the bytes that
    /// ``append(kind:to:)`` writes for that single job.
    package static func appendSingle(_ template: [UInt8], sequence: UInt64, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: template)
        // The sequence is the payload's first field, right after the frame header.
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: sequence.littleEndian, toByteOffset: start + Frame.headerSize, as: UInt64.self)
        }
    }

    /// Reads a header; `nil` when it is malformed, a context included.
    package init?(payload: [UInt8]) {
        guard payload.count >= 20 else { return nil }
        sequence = readInteger(payload, at: 0)
        count = readInteger(payload, at: 8)
        let flags: UInt32 = readInteger(payload, at: 12)
        timed = flags & Self.timedFlag != 0
        first = readInteger(payload, at: 16)
        var nameStart = 20
        if flags & Self.contextFlag != 0 {
            guard payload.count >= 24 else { return nil }
            let length = Int(readInteger(payload, at: 20) as UInt32)
            guard length <= payload.count - 24, let context = Self.decodeContext(payload[24..<(24 + length)]) else {
                return nil
            }
            self.context = context
            nameStart = 24 + length
        } else {
            context = [:]
        }
        jobName = String(decoding: payload[nameStart...], as: UTF8.self)
    }

    /// A context's fields as the header carries them. Fields too long for a 2-byte length are left out: no trace
    /// format comes near that.
    private static func encode(_ context: [String: String]) -> [UInt8] {
        var bytes: [UInt8] = []
        let fields = context.filter { $0.key.utf8.count <= Int(UInt16.max) && $0.value.utf8.count <= Int(UInt16.max) }
            .prefix(Int(UInt16.max))
        appendInteger(UInt16(fields.count), to: &bytes)
        for (key, value) in fields {
            for text in [key, value] {
                appendInteger(UInt16(text.utf8.count), to: &bytes)
                bytes.append(contentsOf: text.utf8)
            }
        }
        return bytes
    }

    private static func decodeContext(_ bytes: ArraySlice<UInt8>) -> [String: String]? {
        var offset = bytes.startIndex
        func readText() -> String? {
            guard bytes.endIndex - offset >= 2 else { return nil }
            let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
            offset += 2
            guard bytes.endIndex - offset >= length else { return nil }
            defer { offset += length }
            return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        }
        guard bytes.count >= 2 else { return nil }
        let count = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
        offset += 2
        var context: [String: String] = [:]
        for _ in 0..<count {
            guard let key = readText(), let value = readText() else { return nil }
            context[key] = value
        }
        guard offset == bytes.endIndex else { return nil }
        return context
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
