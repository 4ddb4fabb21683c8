import TriadCore

// The fuzz targets: code that takes bytes from another process, driven with arbitrary bytes. Each target checks
// what must hold whatever the input: it never crashes, never allocates beyond what the input could justify, and what
// it accepts it understood exactly (a frame re-encodes to the bytes it came from; a decoded value encodes and decodes
// back to itself). libFuzzer drives them in the fuzzers (`Fuzz/run`), and FuzzCorpusTests replays the corpus.

/// The fuzz targets by name, for the fuzzers and the corpus tests.
public enum FuzzTargets {
    /// The frame reader, fed the input in reads of sizes the input chooses, through buffers of sizes it chooses.
    ///
    /// The first byte picks the buffer size and the largest payload accepted, the second the pattern of read
    /// sizes; the rest is the stream. Every frame read must be the stream's next bytes exactly, and the reader
    /// must stop at the first corrupt header with a typed error.
    public static func frames(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let bufferSize = 2 * Frame.headerSize + Int(input[0] & 0x3F) * 16
        let maxPayload = Int(input[0] >> 6) == 0 ? 64 : 4096 << Int(input[0] >> 6)
        let pattern = Int(input[1])
        let stream = UnsafeRawBufferPointer(rebasing: input[2...])
        var reader = FrameReader(maxPayload: maxPayload, bufferSize: bufferSize)
        var offset = 0  // how much of the stream the reader has taken
        var parsed = 0  // how much of the stream the frames read so far cover
        var step = 0
        while true {
            // Drain every complete frame, checking each against the stream.
            while true {
                let frame: Frame?
                do {
                    frame = try reader.next()
                } catch {
                    return  // A typed error stops the stream, as the pool stops a worker that sent garbage.
                }
                guard let frame else { break }
                let encoded = frame.encoded
                precondition(parsed + encoded.count <= offset, "a frame went beyond the bytes read")
                precondition(
                    encoded.elementsEqual(stream[(parsed)..<(parsed + encoded.count)]),
                    "a frame differs from the bytes it was read from"
                )
                precondition(frame.payload.count <= maxPayload, "a frame's payload is above the limit")
                parsed += encoded.count
            }
            guard offset < stream.count else { break }
            // Read the next piece: from 1 byte to the space offered, as the pattern says.
            step += 1
            let wanted = 1 + (pattern &* step &+ step) % 97
            let read: Int? = reader.fill { space in
                let count = min(space.count, wanted, stream.count - offset)
                space.baseAddress!.copyMemory(from: stream.baseAddress! + offset, byteCount: count)
                return count
            }
            offset += read ?? 0
        }
        if reader.endOfStreamError() == nil {
            precondition(parsed == stream.count, "the reader claimed a clean end inside a frame")
        }
    }

    /// The wire decoder, asked for one of several types that jobs, results and errors use; the first byte picks
    /// the type. What decodes must encode and decode back to itself.
    public static func wire(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: input[1...])
        switch selector % 10 {
        case 0: roundTrip(FuzzRecord.self, bytes)
        case 1: roundTrip([String: [Int]].self, bytes, same: ==)
        case 2: roundTrip([Double].self, bytes)
        case 3: roundTrip([FuzzRecord?].self, bytes)
        case 4: roundTrip(WireJobError.self, bytes)
        case 5: roundTrip(WireBatchOutcome<FuzzRecord>.self, bytes)
        case 6: roundTrip(Set<String>.self, bytes, same: ==)
        case 7: roundTrip([[UInt8]].self, bytes)
        case 8: roundTrip(FuzzWirePoint.self, bytes)
        default: roundTrip([FuzzWirePoint].self, bytes)
        }
    }

    /// Decodes `bytes` as `T`; what decodes must encode, decode again, and be the same value: by `same` for types
    /// whose encoding follows a hashing order that differs between instances, else by their encodings (which also
    /// holds for NaNs, unlike `==`).
    private static func roundTrip<T: Codable>(
        _ type: T.Type,
        _ bytes: UnsafeRawBufferPointer,
        same: ((T, T) -> Bool)? = nil
    ) {
        guard let value = try? WireDecoder().decode(T.self, from: bytes) else { return }
        let encoded: [UInt8]
        do {
            encoded = try WireEncoder().encode(value)
        } catch {
            preconditionFailure("a value that decoded did not encode: \(error)")
        }
        guard let again = try? WireDecoder().decode(T.self, from: encoded) else {
            preconditionFailure("a value's own encoding did not decode")
        }
        if let same {
            precondition(same(value, again), "a value changed across a round trip")
        } else {
            precondition((try? WireEncoder().encode(again)) == encoded, "a value changed across a round trip")
        }
    }

    /// Seeds for each target: valid inputs that reach deep into the code, for a fresh corpus.
    public static func seeds(for target: String) -> [[UInt8]] {
        switch target {
        case "frames":
            var stream: [UInt8] = []
            for (index, length) in [0, 1, 5, 40, 300, 2000].enumerated() {
                stream += Frame(kind: UInt8(index + 1), flags: 1, payload: Array(repeating: 0x5A, count: length)).encoded
            }
            return [[0x3F, 7] + stream, [0x40, 1] + stream, [0xC0, 200] + stream, [0x05, 3] + Array(stream.prefix(30))]
        case "wire":
            let record = FuzzRecord(
                name: "résumé", count: 3, ratio: 0.5, tags: ["a", "b"], nested: [[1, 2], []], maybe: nil
            )
            var seeds: [[UInt8]] = []
            func add<T: Encodable>(_ selector: UInt8, _ value: T) {
                if let bytes = try? WireEncoder().encode(value) { seeds.append([selector] + bytes) }
            }
            add(0, record)
            add(1, ["x": [1, 2, 3], "y": []])
            add(2, [1.5, -2, .infinity])
            add(3, [record, nil])
            add(4, WireJobError(typeName: "Failure", description: "it failed", payload: [1, 2, 3]))
            add(5, WireBatchOutcome(outputs: [record], failures: []))
            add(6, Set(["one", "two"]))
            add(7, [[UInt8](repeating: 7, count: 100), []])
            add(8, FuzzWirePoint(x: 1, y: -1))
            add(9, [FuzzWirePoint(x: 1, y: 2), FuzzWirePoint(x: 3, y: 4)])
            return seeds
        case "ring":
            #if os(Linux)
            return ringSeeds
            #else
            return []
            #endif
        default:
            return []
        }
    }

    /// Runs `target` on `input`.
    public static func run(_ target: String, _ input: [UInt8]) {
        input.withUnsafeBytes { bytes in
            switch target {
            case "frames": frames(bytes)
            case "wire": wire(bytes)
            #if os(Linux)
            case "ring": ring(bytes)
            #endif
            default: preconditionFailure("no fuzz target named \(target)")
            }
        }
    }
}

/// A struct with every kind of field a job has, through plain `Codable`.
struct FuzzRecord: Codable, Sendable {
    var name: String
    var count: Int
    var ratio: Double
    var tags: [String]
    var nested: [[Int]]
    var maybe: Int?
}

/// A type with its own wire functions.
struct FuzzWirePoint: Codable, Sendable, WireCodable {
    var x: Int32
    var y: Int32

    init(x: Int32, y: Int32) {
        self.x = x
        self.y = y
    }

    func encode(to writer: inout WireWriter) {
        writer.write(x)
        writer.write(y)
    }

    init(from reader: inout WireReader) throws(WireError) {
        x = try reader.read(Int32.self)
        y = try reader.read(Int32.self)
    }
}
