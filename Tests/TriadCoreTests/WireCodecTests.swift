import Testing
import TriadCore

private struct Point: Codable, Hashable, Sendable {
    var x: Double
    var y: Double
}

private struct Everything: Codable, Hashable, Sendable {
    var flag: Bool
    var name: String
    var small: Int8
    var big: UInt64
    var ratio: Float
    var maybe: Int?
    var missing: String?
    var points: [Point]
    var samples: [Double]
    var bytes: [UInt8]
    var table: [String: Int]
    var tags: Set<String>
    var nested: [[Int]]
    var optionalList: [Int?]
}

@Suite("Wire codec")
struct WireCodecTests {
    let encoder = WireEncoder()
    let decoder = WireDecoder()

    @Test("every kind of value survives a round trip")
    func roundTrip() throws {
        let value = Everything(
            flag: true, name: "héllo ✓", small: -3, big: .max, ratio: 1.5, maybe: 42, missing: nil,
            points: [Point(x: 1, y: 2), Point(x: -3.5, y: .infinity)],
            samples: (0..<1000).map { Double($0) / 7 }, bytes: Array(0...255),
            table: ["a": 1, "b": 2], tags: ["x", "y"], nested: [[1, 2], [], [3]], optionalList: [1, nil, 3]
        )
        let bytes = try encoder.encode(value)
        #expect(try decoder.decode(Everything.self, from: bytes) == value)
    }

    @Test("a bulk array decodes the same as one encoded element by element")
    func bulkMatchesElementwise() throws {
        let doubles: [Double] = [1, 2.5, -7]
        let bulk = try encoder.encode(doubles)
        #expect(bulk.count == 4 + 3 * 8)
        #expect(try decoder.decode([Double].self, from: bulk) == doubles)
    }

    @Test("truncated bytes give a truncated error")
    func truncated() throws {
        let bytes = try encoder.encode(Point(x: 1, y: 2))
        #expect(throws: WireError.self) { try decoder.decode(Point.self, from: Array(bytes.dropLast())) }
        do {
            _ = try decoder.decode([Double].self, from: [0xFF, 0xFF, 0xFF, 0x7F])
            Issue.record("a huge count over no bytes decoded")
        } catch {
            #expect(error.code == .truncated)
        }
    }

    @Test("left-over bytes are reported")
    func trailing() throws {
        let bytes = try encoder.encode(7 as Int)
        do {
            _ = try decoder.decode(Int32.self, from: bytes)
            Issue.record("decoding the wrong type succeeded")
        } catch {
            #expect(error.code == .trailingBytes)
        }
    }

    @Test("invalid bools and strings are rejected")
    func invalid() throws {
        #expect(throws: WireError.self) { try decoder.decode(Bool.self, from: [2]) }
        #expect(throws: WireError.self) { try decoder.decode(String.self, from: [2, 0, 0, 0, 0xC3, 0x28]) }
    }
}

@Suite("Frames")
struct FrameTests {
    @Test("frames come out whole whatever the sizes of the reads, large payloads read straight into place")
    func frameStream() throws {
        let sizes = [0, 1, 100, 70_000, 5, 40_000, 33_000, 12]
        var stream: [UInt8] = []
        for (index, size) in sizes.enumerated() {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            stream += Frame(kind: 3, flags: 1, payload: payload).encoded
        }
        for chunk in [1, 7, 997, 65_536, 1 << 20] {
            for bufferSize in [64, 1 << 10, 64 << 10] {
                var reader = FrameReader(bufferSize: bufferSize)
                let frames = try FrameFeed.frames(from: stream, into: &reader, chunk: chunk)
                #expect(frames.map(\.payload.count) == sizes, "reads of \(chunk), buffer of \(bufferSize)")
                for (index, frame) in frames.enumerated() {
                    #expect(frame.payload == (0..<sizes[index]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
                }
                #expect(frames.allSatisfy { $0.kind == 3 && $0.flags == 1 })
                let ending = reader.endOfStreamError()
                let held = reader.holdsPartialFrame
                #expect(ending == nil)
                #expect(!held)
            }
        }
    }

    @Test("a large payload's reads stop at its end, so the next frame stays in the stream until it is whole")
    func largeReadsStopAtPayloadEnd() throws {
        var reader = FrameReader(bufferSize: 1 << 10)
        let large = Frame(kind: 1, payload: Array(repeating: 7, count: 4_000)).encoded
        let small = Frame(kind: 2, payload: [9]).encoded
        let stream = large + small
        var offered: [Int] = []
        var offset = 0
        var frames: [Frame] = []
        while offset < stream.count {
            while let frame = try reader.next() { frames.append(frame) }
            reader.fill { (space: UnsafeMutableRawBufferPointer) -> Int? in
                offered.append(space.count)
                let count = min(space.count, stream.count - offset)
                stream.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
                offset += count
                return count
            }
        }
        while let frame = try reader.next() { frames.append(frame) }
        #expect(frames.map(\.kind) == [1, 2])
        // After the first read (the buffer's 1 KiB), the reader offers exactly the rest of the large payload.
        #expect(offered[1] == 4_000 - (1 << 10 - Frame.headerSize))
        let complete = reader.hasCompleteFrame
        #expect(!complete)
    }

    @Test("garbage, oversized and truncated streams give typed errors")
    func badStreams() throws {
        var garbage = FrameReader()
        _ = try FrameFeed.frames(from: Array("GET / HTTP/1.1\r\n".utf8), into: &garbage, chunk: 100, takingFrames: false)
        #expect { try garbage.next() } throws: { ($0 as? WireError)?.code == .corruptFrame }
        let garbageEnd = garbage.endOfStreamError()
        #expect(garbageEnd?.code == .corruptFrame)

        var small = FrameReader(maxPayload: 10)
        let oversized = Frame(kind: 1, payload: Array(repeating: 0, count: 11)).encoded
        _ = try FrameFeed.frames(from: oversized, into: &small, chunk: 100, takingFrames: false)
        #expect { try small.next() } throws: { ($0 as? WireError)?.code == .frameTooLarge }

        for bufferSize in [64, 64 << 10] {
            var cut = FrameReader(bufferSize: bufferSize)
            let truncated = Array(Frame(kind: 1, payload: Array(repeating: 1, count: 200)).encoded.dropLast())
            #expect(try FrameFeed.frames(from: truncated, into: &cut, chunk: 50).isEmpty)
            let (held, buffered, ending) = (cut.holdsPartialFrame, cut.bufferedCount, cut.endOfStreamError())
            #expect(held)
            #expect(buffered == truncated.count)
            #expect(ending?.code == .truncated)
        }
    }
}

/// Feeds a byte stream to a frame reader as a socket would, in reads of at most a given size.
enum FrameFeed {
    /// Feeds `bytes` to `reader` in reads of at most `chunk` bytes, taking frames out between reads (unless told
    /// not to), and returns them.
    static func frames(
        from bytes: [UInt8],
        into reader: inout FrameReader,
        chunk: Int,
        takingFrames: Bool = true
    ) throws -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        while offset < bytes.count {
            if takingFrames { while let frame = try reader.next() { frames.append(frame) } }
            reader.fill { (space: UnsafeMutableRawBufferPointer) -> Int? in
                let count = min(space.count, chunk, bytes.count - offset)
                bytes.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
                offset += count
                return count
            }
        }
        if takingFrames { while let frame = try reader.next() { frames.append(frame) } }
        return frames
    }
}
