import Foundation
import Glibc
import Testing
import TriadCore
import TriadProcessesTestSupport

@testable import TriadProcesses

/// The lanes of one worker seen from both sides inside this process: the parent's object and a worker's object
/// over duplicates of the same two memfds.
private struct LanePair {
    let parent: SharedFrameLanes
    let worker: SharedFrameLanes

    init(threshold: Int = 1 << 16, maxPayload: Int = 1 << 30) throws {
        let (parent, fds) = try SharedFrameLanes.parentSide(threshold: threshold, maxPayload: maxPayload).get()
        self.parent = parent
        worker = SharedFrameLanes(
            writeFD: dup(fds[1]), readFD: dup(fds[0]), threshold: threshold, maxPayload: maxPayload
        )
    }

    func close() {
        parent.close()
        worker.close()
    }
}

/// The frames of a message, as its reader would cut them.
private func frames(of message: OutgoingMessage) throws -> [Frame] {
    var reader = FrameReader()
    let bytes = message.segments.flatMap(\.bytes)
    var offset = 0
    var result: [Frame] = []
    while offset < bytes.count {
        while let frame = try reader.next() { result.append(frame) }
        reader.fill { (space: UnsafeMutableRawBufferPointer) -> Int? in
            let count = min(space.count, bytes.count - offset)
            bytes.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
            offset += count
            return count
        }
    }
    while let frame = try reader.next() { result.append(frame) }
    if let error = reader.endOfStreamError() { throw error }
    return result
}

/// A message of a small frame and a data frame that holds `value`, its large arrays borrowed.
private func message(_ value: some Encodable) throws -> OutgoingMessage {
    var message = OutgoingMessage()
    message.appendFrame(kind: WorkerFrameKind.result, payload: [1, 2, 3])
    let encoded = try WireEncoder().encoded(value, borrowingFrom: OutgoingMessage.borrowMinimum)
    message.appendFrame(kind: WorkerFrameKind.data, flags: ResultFlag.success, encoded: encoded)
    return message
}

private func reference(kind: UInt64, offset: UInt64, count: UInt64) -> Frame {
    var payload: [UInt8] = []
    for field in [kind, offset, count] { withUnsafeBytes(of: field.littleEndian) { payload += $0 } }
    return Frame(kind: WorkerFrameKind.sharedData, payload: payload)
}

@Suite("Shared frame lanes")
struct SharedFrameLaneTests {
    static func mixed(_ seed: Int) -> MixedPayload {
        MixedPayload(
            name: "lane \(seed)",
            bytes: (0..<(300_000 + seed)).map { UInt8(truncatingIfNeeded: $0 &+ seed) },
            values: (0..<100_000).map { Double($0 + seed) },
            small: [1, 2, Int32(seed)],
            tail: [9, 8, 7],
            blob: Data((0..<(200_000 + seed)).map { UInt8(truncatingIfNeeded: $0 &* 3) })
        )
    }

    @Test("a borrowed encoding moves into the lane and decodes in place; the slot is reused only once released")
    func inPlaceRoundTrip() throws {
        let lanes = try LanePair()
        defer { lanes.close() }
        let first = try frames(of: lanes.parent.externalize(try message(Self.mixed(1))))
        #expect(first.map(\.kind) == [WorkerFrameKind.result, WorkerFrameKind.sharedData])
        #expect(first[0].payload == [1, 2, 3])
        let firstOffset: UInt64 = readInteger(first[1].payload, at: 8)

        let mapped = try lanes.worker.resolve(first[1], inPlace: true)
        #expect(mapped.isInLane && mapped.kind == WorkerFrameKind.data && mapped.flags == ResultFlag.success)
        let decoded = try mapped.withPayloadBytes { bytes throws(WireError) in
            try WireDecoder().decode(MixedPayload.self, from: bytes)
        }
        #expect(decoded == Self.mixed(1))
        #expect(mapped.owned.payload == (try WireEncoder().encode(Self.mixed(1))))

        // While the first payload is held in place, the next one must go elsewhere.
        let second = try frames(of: lanes.parent.externalize(try message(Self.mixed(2))))
        let secondOffset: UInt64 = readInteger(second[1].payload, at: 8)
        #expect(secondOffset > firstOffset)
        lanes.worker.release(1)
        let copied = try lanes.worker.resolve(second[1])
        #expect(!copied.isInLane)
        #expect(try WireDecoder().decode(MixedPayload.self, from: copied.payload) == Self.mixed(2))

        // Both read: the writer starts at the front again.
        let third = try frames(of: lanes.parent.externalize(try message(Self.mixed(3))))
        #expect(readInteger(third[1].payload, at: 8) == firstOffset)
        let again = try lanes.worker.resolve(third[1], inPlace: true)
        #expect(try again.withPayloadBytes { bytes throws(WireError) in
            try WireDecoder().decode(MixedPayload.self, from: bytes)
        } == Self.mixed(3))
        lanes.worker.release(1)
    }

    @Test("a reader that lags a few payloads behind gets each one whole, and the lane wraps instead of growing")
    func laggingReader() throws {
        let lanes = try LanePair()
        defer { lanes.close() }
        var pending: [(reference: Frame, value: [UInt8])] = []
        var offsets: Set<UInt64> = []
        for round in 0..<60 {
            // A different payload every round, so a payload overwritten before it is read would show.
            let value = (0..<(150_000 + round)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ round) }
            var message = OutgoingMessage()
            message.appendFrame(kind: WorkerFrameKind.data, payload: value)
            let (moved, count) = lanes.parent.externalizeCounting(message)
            #expect(count == 1)
            let reference = try #require(try frames(of: moved).first)
            offsets.insert(readInteger(reference.payload, at: 8))
            pending.append((reference, value))
            // Three payloads stay unread while the next is written, as with a pipeline of jobs to a busy rank.
            guard pending.count > 3 else { continue }
            let oldest = pending.removeFirst()
            let frame = try lanes.worker.resolve(oldest.reference, inPlace: true)
            #expect(frame.withPayloadBytes { Array($0) } == oldest.value)
            lanes.worker.release(1)
        }
        for left in pending {
            #expect(try lanes.worker.resolve(left.reference).payload == left.value)
        }
        // Sixty payloads of about 150 KB took a handful of places: the writer came back to the front of the lane.
        #expect(offsets.count < 20, "\(offsets.sorted())")
        #expect(offsets.max().map { $0 < 2 << 20 } == true, "the lane grew: \(offsets.sorted())")
    }

    @Test("frames below the threshold stay inline, byte for byte")
    func belowThreshold() throws {
        let lanes = try LanePair(threshold: 4 << 20)
        defer { lanes.close() }
        let value = Self.mixed(4)
        let sent = try frames(of: lanes.parent.externalize(try message(value)))
        #expect(sent.map(\.kind) == [WorkerFrameKind.result, WorkerFrameKind.data])
        #expect(sent[1].payload == (try WireEncoder().encode(value)))
    }

    @Test("corrupted references give typed errors; other kinds pass through, never in place")
    func corruptedReferences() throws {
        let lanes = try LanePair(maxPayload: 1 << 24)
        defer { lanes.close() }
        func code(_ frame: Frame) -> WireError.Code? {
            do {
                _ = try lanes.worker.resolve(frame, inPlace: true)
                return nil
            } catch {
                return error.code
            }
        }
        let data = UInt64(WorkerFrameKind.data)
        #expect(code(reference(kind: data, offset: 1 << 40, count: 4096)) == .corruptFrame)
        #expect(code(reference(kind: data, offset: 64, count: 16)) == .corruptFrame)
        #expect(code(reference(kind: data, offset: UInt64.max - 8, count: 16)) == .corruptFrame)
        #expect(code(reference(kind: data, offset: 4096, count: 1 << 25)) == .frameTooLarge)
        #expect(code(reference(kind: 300, offset: 4096, count: 16)) == .corruptFrame)
        #expect(code(reference(kind: UInt64(WorkerFrameKind.sharedData), offset: 4096, count: 16)) == .corruptFrame)
        #expect(code(Frame(kind: WorkerFrameKind.sharedData, payload: [1, 2, 3])) == .corruptFrame)
        // Whether a payload lies in a lane is not written in any kind, so no peer can claim it: a frame of another
        // kind comes back as it is, its payload its own.
        let other = try lanes.worker.resolve(Frame(kind: 0x86, payload: [UInt8](repeating: 0, count: 16)), inPlace: true)
        #expect(other.kind == 0x86 && !other.isInLane && other.payload.count == 16)
        // Nothing was pinned by the failures: a good payload still round-trips and is released cleanly.
        let sent = try frames(of: lanes.parent.externalize(try message(Self.mixed(5))))
        let mapped = try lanes.worker.resolve(sent[1], inPlace: true)
        #expect(mapped.owned.payload == (try WireEncoder().encode(Self.mixed(5))))
        lanes.worker.release(1)
    }

    @Test("a message's frames are found across segments, whatever way they are cut")
    func framesAcrossSegments() throws {
        var whole: [UInt8] = []
        Frame.appendHeader(kind: 2, length: 5, to: &whole)
        whole += [1, 2, 3, 4, 5]
        Frame.appendHeader(kind: 5, length: 0, to: &whole)
        Frame.appendHeader(kind: 5, length: 20, to: &whole)
        whole += [UInt8](repeating: 7, count: 20)
        for cut in [1, 5, 12, 13, 20, 40] {
            var message = OutgoingMessage()
            var start = 0
            while start < whole.count {
                let end = min(whole.count, start + cut)
                message.appendSegment(OutgoingSegment(Array(whole[start..<end])))
                start = end
            }
            let found = try #require(message.frames(), "cut \(cut)")
            #expect(found.map(\.kind) == [2, 5, 5] && found.map(\.length) == [5, 0, 20], "cut \(cut)")
            #expect(message.segments(covering: found[2].payload).flatMap(\.bytes) == [UInt8](repeating: 7, count: 20))
        }
        var broken = OutgoingMessage()
        broken.appendSegment(Array(whole.prefix(20)))
        #expect(broken.frames() == nil)
    }
}
