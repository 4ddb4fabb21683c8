import Testing
import TriadCore

/// A value with every primitive the writer has, written field by field in declaration order.
private struct Reading: WireCodable, Hashable, Sendable {
    var sensor: String
    var value: Double
    var scale: Float
    var ok: Bool
    var count: Int
    var tiny: Int8
    var short: Int16
    var medium: Int32
    var long: Int64
    var unsigned: UInt
    var byte: UInt8
    var ushort: UInt16
    var umedium: UInt32
    var ulong: UInt64
    var history: [Double]
    var note: String?

    init(sensor: String, value: Double) {
        self.sensor = sensor
        self.value = value
        scale = 0.5
        ok = true
        count = -7
        tiny = -8
        short = 1234
        medium = -123_456
        long = .min
        unsigned = .max
        byte = 200
        ushort = 60_000
        umedium = 4_000_000_000
        ulong = .max
        history = [1, 2.5, -3]
        note = value > 0 ? "positive" : nil
    }

    func encode(to writer: inout WireWriter) throws(WireError) {
        try writer.write(sensor)
        writer.write(value)
        writer.write(scale)
        writer.write(ok)
        writer.write(count)
        writer.write(tiny)
        writer.write(short)
        writer.write(medium)
        writer.write(long)
        writer.write(unsigned)
        writer.write(byte)
        writer.write(ushort)
        writer.write(umedium)
        writer.write(ulong)
        try writer.write(history)
        try writer.write(note)
    }

    init(from reader: inout WireReader) throws(WireError) {
        sensor = try reader.read(String.self)
        value = try reader.read(Double.self)
        scale = try reader.read(Float.self)
        ok = try reader.read(Bool.self)
        count = try reader.read(Int.self)
        tiny = try reader.read(Int8.self)
        short = try reader.read(Int16.self)
        medium = try reader.read(Int32.self)
        long = try reader.read(Int64.self)
        unsigned = try reader.read(UInt.self)
        byte = try reader.read(UInt8.self)
        ushort = try reader.read(UInt16.self)
        umedium = try reader.read(UInt32.self)
        ulong = try reader.read(UInt64.self)
        history = try reader.read([Double].self)
        note = try reader.read(String?.self)
    }
}

/// The same fields with only the synthesized `Codable` conformance.
private struct PlainReading: Codable, Hashable {
    var sensor: String
    var value: Double
    var scale: Float
    var ok: Bool
    var count: Int
    var tiny: Int8
    var short: Int16
    var medium: Int32
    var long: Int64
    var unsigned: UInt
    var byte: UInt8
    var ushort: UInt16
    var umedium: UInt32
    var ulong: UInt64
    var history: [Double]
    var note: String?

    init(_ reading: Reading) {
        sensor = reading.sensor
        value = reading.value
        scale = reading.scale
        ok = reading.ok
        count = reading.count
        tiny = reading.tiny
        short = reading.short
        medium = reading.medium
        long = reading.long
        unsigned = reading.unsigned
        byte = reading.byte
        ushort = reading.ushort
        umedium = reading.umedium
        ulong = reading.ulong
        history = reading.history
        note = reading.note
    }
}

/// A `Codable` struct that holds `WireCodable` values, so the codec reaches them from its general path.
private struct Batch: Codable, Hashable {
    var label: String
    var readings: [Reading]
    var best: Reading?
    var byName: [String: Reading]
}

/// A value that counts how often its own functions run, to show the codec takes them.
private struct Counted: WireCodable, Hashable, Sendable {
    var value: Int
    init(_ value: Int) { self.value = value }
    func encode(to writer: inout WireWriter) { writer.write(value &+ 1_000) }
    init(from reader: inout WireReader) throws(WireError) { value = try reader.read(Int.self) - 1_000 }
}

/// A list that writes its count and then its elements through the type's array loops.
private struct CountedList: WireCodable, Hashable {
    var values: [Counted]
    init(values: [Counted]) { self.values = values }
    func encode(to writer: inout WireWriter) throws(WireError) {
        writer.write(UInt32(values.count))
        try Counted._encodeArray(values, to: &writer)
    }
    init(from reader: inout WireReader) throws(WireError) {
        let count = Int(try reader.read(UInt32.self))
        values = try Counted._decodeArray(count: count, from: &reader)
    }
}

/// A list whose decoding asks for a negative number of elements.
private struct NegativeList: WireCodable {
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(WireError) {
        _ = try Counted._decodeArray(count: -1, from: &reader)
    }
}

/// Takes every byte that is left, to show `remainingCount`.
private struct Rest: WireCodable, Hashable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func encode(to writer: inout WireWriter) { for byte in bytes { writer.write(byte) } }
    init(from reader: inout WireReader) throws(WireError) {
        bytes = []
        while reader.remainingCount > 0 { bytes.append(try reader.read(UInt8.self)) }
    }
}

@Suite("WireCodable: a type's own wire functions")
struct WireCodableTests {
    @Test("writing every field in order gives exactly the bytes of the synthesized Codable form")
    func sameBytesAsCodable() throws {
        for reading in [Reading(sensor: "north ✓", value: 21.5), Reading(sensor: "", value: -1)] {
            let native = try WireEncoder().encode(reading)
            let plain = try WireEncoder().encode(PlainReading(reading))
            #expect(native == plain)
            #expect(try WireDecoder().decode(Reading.self, from: plain) == reading)
            #expect(try WireDecoder().decode(PlainReading.self, from: native) == PlainReading(reading))
        }
    }

    @Test("the codec takes the type's own functions alone, in arrays, optionals, dictionaries and nested values")
    func nativePathEverywhere() throws {
        let values = (0..<100).map(Counted.init)
        // The functions shift the number by 1000 on the wire: a plain Int after decoding as Int shows it.
        #expect(try WireDecoder().decode(Int.self, from: WireEncoder().encode(Counted(5))) == 1_005)
        #expect(try WireDecoder().decode([Counted].self, from: WireEncoder().encode(values)) == values)
        #expect(try WireDecoder().decode([Int].self, from: WireEncoder().encode(values)) == (1_000..<1_100).map { $0 })
        let optional: Counted? = Counted(3)
        #expect(try WireDecoder().decode(Counted?.self, from: WireEncoder().encode(optional)) == optional)
        let batch = Batch(
            label: "morning",
            readings: [Reading(sensor: "a", value: 1), Reading(sensor: "b", value: -2)],
            best: Reading(sensor: "a", value: 1),
            byName: ["c": Reading(sensor: "c", value: 3)]
        )
        #expect(try WireDecoder().decode(Batch.self, from: WireEncoder().encode(batch)) == batch)
    }

    @Test("an encoding plan made once per type gives the bytes and borrowed arrays of the plain encoding")
    func encodingPlan() throws {
        func check<T: Encodable>(_ value: T, borrowingFrom minimum: Int) throws {
            var planned: [UInt8] = [7]
            let plannedChunks = try WireEncoder().encode(
                value, plan: WireEncodingPlan(for: T.self), appendingTo: &planned, borrowingFrom: minimum
            )
            var plain: [UInt8] = [7]
            let plainChunks = try WireEncoder().encode(value, appendingTo: &plain, borrowingFrom: minimum)
            #expect(planned == plain)
            #expect(plannedChunks.map(\.position) == plainChunks.map(\.position))
            #expect(plannedChunks.map { Array($0.bytes) } == plainChunks.map { Array($0.bytes) })
        }
        // The type's own functions, the general path, and the general path with an array left out of line.
        try check(Counted(5), borrowingFrom: 1)
        try check(Reading(sensor: "west", value: 2), borrowingFrom: 1 << 20)
        try check(PlainReading(Reading(sensor: "east", value: 3)), borrowingFrom: 1 << 20)
        try check([UInt8](repeating: 4, count: 5000), borrowingFrom: 1024)
        var bytes: [UInt8] = []
        let chunks = try WireEncoder().encode(
            [UInt8](repeating: 4, count: 5000), plan: WireEncodingPlan(for: [UInt8].self), appendingTo: &bytes,
            borrowingFrom: 1024
        )
        #expect(chunks.count == 1)
    }

    @Test("one plan encodes value after value, through a failing one, and from several threads at once")
    func encodingPlanReused() async throws {
        let plan = WireEncodingPlan(for: PlainReading.self)
        func encoded(_ value: PlainReading) throws -> [UInt8] {
            var bytes: [UInt8] = []
            #expect(try WireEncoder().encode(value, plan: plan, appendingTo: &bytes, borrowingFrom: 1 << 20).isEmpty)
            return bytes
        }
        let readings = (0..<50).map { PlainReading(Reading(sensor: "s\($0)", value: Double($0))) }
        for reading in readings { #expect(try encoded(reading) == WireEncoder().encode(reading)) }
        // A conformance that throws midway leaves the plan's sink fit for the next value.
        let failing = WireEncodingPlan(for: Refusing.self)
        for round in 0..<3 {
            var bytes: [UInt8] = [1]
            #expect(throws: WireError.self) {
                try WireEncoder().encode(Refusing(fail: true), plan: failing, appendingTo: &bytes, borrowingFrom: 64)
            }
            var good: [UInt8] = []
            let chunks = try WireEncoder().encode(
                Refusing(fail: false, round: round), plan: failing, appendingTo: &good, borrowingFrom: 64
            )
            #expect(chunks.isEmpty)
            #expect(good == (try WireEncoder().encode(Refusing(fail: false, round: round))))
        }
        // Threads that find the spare sink taken make their own.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for task in 0..<8 {
                group.addTask {
                    try (0..<200).allSatisfy { index in
                        let reading = readings[(task * 7 + index) % readings.count]
                        return try encoded(reading) == WireEncoder().encode(reading)
                    }
                }
            }
            for try await same in group { #expect(same) }
        }
    }

    @Test("truncated, invalid and hostile bytes end in a typed error")
    func badBytes() throws {
        let bytes = try WireEncoder().encode(Reading(sensor: "east", value: 2))
        for cut in [0, 3, 10, bytes.count - 1] {
            #expect(throws: WireError.self) { try WireDecoder().decode(Reading.self, from: Array(bytes.prefix(cut))) }
        }
        var badBool = bytes
        // The Bool follows the string (4 + 4 bytes), the Double (8) and the Float (4).
        badBool[20] = 7
        let error = #expect(throws: WireError.self) { try WireDecoder().decode(Reading.self, from: badBool) }
        #expect(error?.code == .invalidValue)
        // An array that claims four billion elements, with nothing behind the count.
        let hostile: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: WireError.self) { try WireDecoder().decode([Counted].self, from: hostile) }
        #expect(throws: WireError.self) { try WireDecoder().decode(Counted.self, from: bytes + [1]) }
    }

    @Test("a writer and a reader work on their own")
    func writerAlone() throws {
        var writer = WireWriter()
        writer.write(42)
        try writer.write("hi")
        try writer.write([1.5, 2.5])
        #expect(writer.bytes.count == 8 + 4 + 2 + 4 + 16)
        #expect(try WireDecoder().decode(Int.self, from: Array(writer.bytes.prefix(8))) == 42)
        var prefilled = WireWriter(bytes: [9])
        prefilled.write(UInt8(8))
        #expect(try WireDecoder().decode(Rest.self, from: prefilled.bytes) == Rest([9, 8]))
        let reading = Reading(sensor: "west", value: 9)
        let decoded = try WireDecoder().decode(Reading.self, from: WireEncoder().encode(reading))
        #expect(decoded.note == "positive")
    }

    @Test("a type's array loops write the elements one after another and read them back, checking every length")
    func arrayLoops() throws {
        let list = CountedList(values: (0..<50).map(Counted.init))
        let bytes = try WireEncoder().encode(list)
        // The codec's own array form is the same: a 4-byte count, then the elements' bytes one after another.
        #expect(bytes == (try WireEncoder().encode(list.values)))
        #expect(bytes.count == 4 + 50 * 8)
        #expect(try WireDecoder().decode(CountedList.self, from: bytes) == list)
        // More elements than the bytes hold: a typed error, and no allocation sized by the hostile count.
        for count in [51, Int(UInt32.max)] {
            var hostile = bytes
            withUnsafeBytes(of: UInt32(count).littleEndian) { hostile.replaceSubrange(0..<4, with: $0) }
            let error = #expect(throws: WireError.self) { try WireDecoder().decode(CountedList.self, from: hostile) }
            #expect(error?.code == .truncated)
        }
        // A count a conformance got wrong: a typed error, not a crash.
        let negative = #expect(throws: WireError.self) { try WireDecoder().decode(NegativeList.self, from: bytes) }
        #expect(negative?.code == .invalidValue)
    }
}

/// A value whose conformance throws after it wrote a field, when told to.
private struct Refusing: Encodable {
    struct Refused: Error {}
    var fail: Bool
    var round = 0

    enum CodingKeys: String, CodingKey { case fail, round }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(fail, forKey: .fail)
        if fail { throw Refused() }
        try container.encode(round, forKey: .round)
    }
}
