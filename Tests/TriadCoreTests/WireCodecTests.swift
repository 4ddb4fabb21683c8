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
    @Test("frames split across arbitrary chunks come back whole")
    func chunked() throws {
        var stream: [UInt8] = []
        for size in [0, 1, 100, 70_000] {
            stream += Frame(kind: 3, flags: 1, payload: Array(repeating: UInt8(size % 251), count: size)).encoded
        }
        var reader = FrameReader()
        var frames: [Frame] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + 997)
            reader.append(Array(stream[offset..<end]))
            offset = end
            while let frame = try reader.next() { frames.append(frame) }
        }
        try reader.finish()
        #expect(frames.map(\.payload.count) == [0, 1, 100, 70_000])
        #expect(frames.allSatisfy { $0.kind == 3 && $0.flags == 1 })
    }

    @Test("garbage, oversized and truncated streams give typed errors")
    func badStreams() throws {
        var garbage = FrameReader()
        garbage.append(Array("GET / HTTP/1.1\r\n".utf8))
        #expect { try garbage.next() } throws: { ($0 as? WireError)?.code == .corruptFrame }

        var small = FrameReader(maxPayload: 10)
        small.append(Frame(kind: 1, payload: Array(repeating: 0, count: 11)).encoded)
        #expect { try small.next() } throws: { ($0 as? WireError)?.code == .frameTooLarge }

        var cut = FrameReader()
        cut.append(Array(Frame(kind: 1, payload: [1, 2, 3]).encoded.dropLast()))
        #expect(try cut.next() == nil)
        #expect { try cut.finish() } throws: { ($0 as? WireError)?.code == .truncated }
    }
}
