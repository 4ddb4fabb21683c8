import Testing
import TriadCore
import TriadProcessesTestSupport

@testable import TriadProcesses

/// The payload of a header as `append` writes it, checking the frame header around it.
private func payload(of header: JobHeader, kind: UInt8 = WorkerFrameKind.job) -> [UInt8] {
    var bytes: [UInt8] = []
    header.append(kind: kind, to: &bytes)
    let length = bytes[8..<12].reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect(bytes[4] == kind)
    #expect(length == bytes.count - Frame.headerSize)
    return Array(bytes[Frame.headerSize...])
}

/// A sink for works that never reach a pool.
private func sink() -> SingleJobSink<Square> {
    SingleJobSink(jobName: Square.jobName, registry: TestPools.registry)
}

extension EncodedJobMessage {
    /// The job's own encoding, when it may travel in a batch with others of its kind.
    fileprivate var batchablePayload: [UInt8]? {
        guard batchablePayloadStart != nil else { return nil }
        guard let inline else { return Array(bytes[payloadStart...]) }
        var payload: [UInt8] = []
        inline.payload.append(to: &payload)
        return payload
    }
}

/// The encoding a work contributes to a batch, or nil when it may not join one.
private func batchPayload(of work: PoolWork) -> [UInt8]? {
    guard let count = work.batchablePayloadCount else { return nil }
    var bytes: [UInt8] = []
    work.appendBatchablePayload(to: &bytes)
    #expect(bytes.count == count)
    return bytes
}

@Suite("Job headers")
struct JobHeaderTests {
    @Test("a header without a trace context keeps its 20 fixed bytes and the name, and reads back")
    func untracedRoundTrip() throws {
        let header = JobHeader(sequence: 42, count: 7, jobName: "Thumbnail", timed: false, first: 3)
        let bytes = payload(of: header)
        #expect(bytes.count == 20 + "Thumbnail".utf8.count)
        #expect(JobHeader(payload: bytes) == header)
    }

    @Test("a single job's header stamped into its type's template is the header written field by field")
    func singleTemplate() throws {
        let template = JobHeader.singleTemplate(jobName: "Résumé")
        for sequence: UInt64 in [0, 1, 0x0102_0304_0506_0708, .max] {
            var stamped: [UInt8] = [9, 9]
            JobHeader.appendSingle(template, sequence: sequence, to: &stamped)
            var written: [UInt8] = [9, 9]
            JobHeader(sequence: sequence, count: 1, jobName: "Résumé").append(kind: WorkerFrameKind.job, to: &written)
            #expect(stamped == written)
        }
        // A whole single-job message built with the template, and without it.
        let withTemplate = try JobMessages.single(
            Square(12), named: Square.jobName, sequence: 77, maxFrameSize: 1 << 20,
            template: SingleJobTemplate(of: Square.self, jobName: Square.jobName, registry: TestPools.registry)
        )
        let without = try JobMessages.single(Square(12), named: Square.jobName, sequence: 77, maxFrameSize: 1 << 20)
        #expect(withTemplate.message.segments.flatMap(\.bytes) == without.bytes)
        #expect(withTemplate.batchablePayload == without.batchablePayload)
        // A trace context is written field by field whatever the template.
        let traced = try JobMessages.single(
            Square(12), named: Square.jobName, sequence: 77, maxFrameSize: 1 << 20, context: ["traceparent": "x"],
            template: SingleJobTemplate(of: Square.self, jobName: Square.jobName, registry: TestPools.registry)
        )
        #expect(traced.bytes.count > without.bytes.count)
        #expect(traced.traced)
    }

    @Test("a small job's work keeps its bytes and sends its encoding's message; a large one keeps its message")
    func workFrames() throws {
        let small = try JobMessages.single(Square(12), named: Square.jobName, sequence: 5, maxFrameSize: 1 << 20)
        let smallWork = PoolWork(sequence: 5, jobName: Square.jobName, encoded: small, timeout: nil, sink: sink())
        guard case .bytes(let kept) = smallWork.frames else {
            Issue.record("a job with no array out of line should keep its bytes, not a built message")
            return
        }
        #expect(kept == small.bytes)
        #expect(batchPayload(of: smallWork) == small.batchablePayload)
        #expect(batchPayload(of: smallWork) == Array(small.bytes[small.payloadStart...]))
        #expect(smallWork.message.segments.flatMap(\.bytes) == small.message.segments.flatMap(\.bytes))
        var appended = OutgoingMessage()
        appended.appendEncodedFrames([1, 2, 3])
        smallWork.appendMessage(to: &appended)
        #expect(appended.segments.flatMap(\.bytes) == [1, 2, 3] + small.bytes)
        #expect(appended.byteCount == 3 + small.bytes.count)

        let large = try JobMessages.single(
            Echo([UInt8](repeating: 7, count: 100_000)), named: Echo.jobName, sequence: 6, maxFrameSize: 1 << 20
        )
        #expect(!large.chunks.isEmpty)
        let largeWork = PoolWork(sequence: 6, jobName: Echo.jobName, encoded: large, timeout: nil, sink: sink())
        guard case .message = largeWork.frames else {
            Issue.record("a job with an array out of line should keep its message of several segments")
            return
        }
        #expect(largeWork.message.byteCount == large.message.byteCount)
        #expect(largeWork.batchablePayloadCount == nil)
        #expect(largeWork.message.segments.flatMap(\.bytes) == large.message.segments.flatMap(\.bytes))
    }

    @Test("a small job encoded with its type's template keeps its encoding in its work, and sends the same message")
    func inlineFrames() throws {
        let template = SingleJobTemplate(of: Square.self, jobName: Square.jobName, registry: TestPools.registry)
        let plain = try JobMessages.single(Square(-7), named: Square.jobName, sequence: 9, maxFrameSize: 1 << 20)
        // Twice, so that the second encoding reuses the template's buffer.
        for _ in 0..<2 {
            let small = try JobMessages.single(
                Square(-7), named: Square.jobName, sequence: 9, maxFrameSize: 1 << 20, template: template
            )
            let work = PoolWork(sequence: 9, jobName: Square.jobName, encoded: small, timeout: nil, sink: sink())
            guard case .inline(_, let payload) = work.frames else {
                Issue.record("a small job encoded with a template should keep its encoding in its work")
                return
            }
            #expect(payload.count == plain.bytes.count - plain.payloadStart)
            #expect(batchPayload(of: work) == plain.batchablePayload)
            #expect(work.message.segments.flatMap(\.bytes) == plain.bytes)
            var appended = OutgoingMessage()
            appended.appendEncodedFrames([1, 2])
            work.appendMessage(to: &appended)
            #expect(appended.segments.flatMap(\.bytes) == [1, 2] + plain.bytes)
            #expect(appended.byteCount == 2 + plain.bytes.count)
        }
        // A job above the inline capacity keeps its bytes whole, its header stamped as without a template.
        let echoTemplate = SingleJobTemplate(of: Echo.self, jobName: Echo.jobName, registry: TestPools.registry)
        let bytes = [UInt8](repeating: 1, count: InlineJobBytes.capacity + 1)
        let larger = try JobMessages.single(
            Echo(bytes), named: Echo.jobName, sequence: 10, maxFrameSize: 1 << 20, template: echoTemplate
        )
        let largerPlain = try JobMessages.single(Echo(bytes), named: Echo.jobName, sequence: 10, maxFrameSize: 1 << 20)
        #expect(larger.inline == nil)
        #expect(larger.bytes == largerPlain.bytes)
        // An encoding that fails leaves the template's buffer fit for the next job.
        #expect(throws: ExecutorError.self) {
            try JobMessages.single(
                Echo(bytes), named: Echo.jobName, sequence: 11, maxFrameSize: 8, template: echoTemplate
            )
        }
        let next = try JobMessages.single(
            Echo([1, 2]), named: Echo.jobName, sequence: 12, maxFrameSize: 1 << 20, template: echoTemplate
        )
        let nextPlain = try JobMessages.single(Echo([1, 2]), named: Echo.jobName, sequence: 12, maxFrameSize: 1 << 20)
        #expect(next.inline != nil)
        #expect(next.message.segments.flatMap(\.bytes) == nextPlain.bytes)
        // Small and larger jobs in turn: a larger one after a small one stamps its own sequence and length into
        // the headers that the small one left in the buffer.
        for (sequence, count) in [(20, 2), (21, 40), (22, 3), (23, 100), (24, 0), (25, 25)] {
            let payload = [UInt8](repeating: UInt8(sequence), count: count)
            let encoded = try JobMessages.single(
                Echo(payload), named: Echo.jobName, sequence: UInt64(sequence), maxFrameSize: 1 << 20,
                template: echoTemplate
            )
            let plain = try JobMessages.single(
                Echo(payload), named: Echo.jobName, sequence: UInt64(sequence), maxFrameSize: 1 << 20
            )
            #expect((encoded.inline != nil) == (plain.bytes.count - plain.payloadStart <= InlineJobBytes.capacity))
            #expect(encoded.message.segments.flatMap(\.bytes) == plain.bytes, "job \(sequence) of \(count) bytes")
        }
    }

    @Test("a work keeps an encoding of up to 24 bytes, whole and in order, and refuses a longer one")
    func inlineBytesBounds() {
        for count in [0, 1, 7, 8, 9, 23, InlineJobBytes.capacity] {
            let source = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let kept = source.withUnsafeBytes { InlineJobBytes($0) }
            #expect(kept?.count == count)
            var appended: [UInt8] = [0xFF]
            kept?.append(to: &appended)
            #expect(appended == [0xFF] + source)
        }
        let longer = [UInt8](repeating: 1, count: InlineJobBytes.capacity + 1)
        #expect(longer.withUnsafeBytes { InlineJobBytes($0) } == nil)
    }

    @Test("a trace context travels in the header and reads back whole")
    func tracedRoundTrip() throws {
        let context = [
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "triad=é,vendor=1",
            "": "",
        ]
        let header = JobHeader(
            sequence: .max, count: 1, jobName: "Résumé", timed: true, first: 0, context: context
        )
        let read = try #require(JobHeader(payload: payload(of: header, kind: WorkerFrameKind.chunk)))
        #expect(read == header)
        #expect(read.context == context)
        #expect(read.jobName == "Résumé")
    }

    @Test("a traced single job never joins a batch; an untraced small one may")
    func tracedJobsAreNotBatchable() throws {
        let untraced = try JobMessages.single(Square(3), named: Square.jobName, sequence: 1, maxFrameSize: 1 << 20)
        #expect(untraced.batchablePayload != nil)
        let traced = try JobMessages.single(
            Square(3), named: Square.jobName, sequence: 1, maxFrameSize: 1 << 20,
            context: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
        )
        #expect(traced.batchablePayload == nil)
        // The job's own encoding is the same either way: only the header grew.
        #expect(traced.bytes[traced.payloadStart...] == untraced.bytes[untraced.payloadStart...])
    }

    @Test("a malformed context makes the header unreadable rather than misread", arguments: [
        // Flags say a context follows, but the payload ends before its length.
        [UInt8](repeating: 0, count: 12) + [2, 0, 0, 0] + [0, 0, 0, 0],
        // A context length beyond the payload.
        [UInt8](repeating: 0, count: 12) + [2, 0, 0, 0] + [0, 0, 0, 0] + [200, 0, 0, 0] + [0, 0],
        // One field announced, none present.
        [UInt8](repeating: 0, count: 12) + [2, 0, 0, 0] + [0, 0, 0, 0] + [2, 0, 0, 0] + [1, 0],
        // A key longer than the context.
        [UInt8](repeating: 0, count: 12) + [2, 0, 0, 0] + [0, 0, 0, 0] + [5, 0, 0, 0] + [1, 0, 9, 0, 65],
        // Bytes left over after the fields.
        [UInt8](repeating: 0, count: 12) + [2, 0, 0, 0] + [0, 0, 0, 0] + [3, 0, 0, 0] + [0, 0, 7],
    ])
    func malformedContext(bytes: [UInt8]) {
        #expect(JobHeader(payload: bytes) == nil)
    }
}
