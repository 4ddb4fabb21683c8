import Foundation
import Testing
import TriadCore

struct OutOfLineArrays: Codable, Hashable, Sendable {
    var label: String
    var bytes: [UInt8]
    var values: [Double]
    var small: [Int32]
    var nested: [[UInt16]]
    var maybe: [Float]?
    var blob: Data
}

private struct Mirror: Job {
    var arrays: OutOfLineArrays
    func run() async throws -> OutOfLineArrays { arrays }
}

private struct Refuse: Job {
    func run() async throws -> Int { throw CancellationError() }
}

@Suite("Wire codec: large arrays out of line")
struct WireOutOfLineTests {
    static let value = OutOfLineArrays(
        label: "large",
        bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) },
        values: (0..<30_000).map { Double($0) / 3 },
        small: [1, -2, 3],
        nested: [[1, 2], (0..<50_000).map { UInt16(truncatingIfNeeded: $0) }, []],
        maybe: (0..<20_000).map { Float($0) },
        blob: Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 11) })
    )

    @Test("a borrowed encoding, put together, is byte for byte the plain encoding")
    func sameBytes() throws {
        let plain = try WireEncoder().encode(Self.value)
        for minimum in [1, 1000, 80_000, 100_000, 1 << 20] {
            let encoded = try WireEncoder().encoded(Self.value, borrowingFrom: minimum)
            #expect(encoded.joined == plain, "minimum \(minimum)")
            #expect(encoded.count == plain.count)
            let expected = [200_000, 240_000, 100_000, 80_000, 12, 4, 70_000].filter { $0 >= minimum }.count
            #expect(encoded.chunks.count == expected, "minimum \(minimum)")
            #expect(encoded.chunks.map(\.position) == encoded.chunks.map(\.position).sorted())
            #expect(try WireDecoder().decode(OutOfLineArrays.self, from: encoded.joined) == Self.value)
        }
        #expect(try WireEncoder().encoded(Self.value, borrowingFrom: nil).chunks.isEmpty)
    }

    @Test("a borrowed encoding appends after existing bytes, with positions in the whole buffer")
    func appending() throws {
        var bytes: [UInt8] = [9, 9, 9]
        let chunks = try WireEncoder().encode(Self.value.bytes, appendingTo: &bytes, borrowingFrom: 1024)
        #expect(bytes == [9, 9, 9, 64, 13, 3, 0])
        #expect(chunks.count == 1 && chunks[0].position == 7 && chunks[0].bytes.count == 200_000)
        #expect(Array(chunks[0].bytes) == Self.value.bytes)
    }

    @Test("a prepared job decodes first, then runs and encodes its output out of line")
    func preparedJob() async throws {
        let registry = JobRegistry([Mirror.self, Refuse.self])
        let input = try WireEncoder().encode(Mirror(arrays: Self.value))
        let prepared = try input.withUnsafeBytes { registry.prepare(jobName: Mirror.jobName, input: $0) }.get()
        let output = try await prepared.run(registry: registry, borrowingFrom: 100_000).get()
        #expect(output.chunks.count == 3)
        #expect(try WireDecoder().decode(OutOfLineArrays.self, from: output.joined) == Self.value)

        let batchInput = try WireEncoder().encode([Mirror(arrays: Self.value), Mirror(arrays: Self.value)])
        let batch = try batchInput.withUnsafeBytes {
            registry.prepare(jobName: Mirror.jobName, input: $0, batch: true)
        }.get()
        let outcome = try await batch.run(registry: registry, borrowingFrom: nil).get()
        let decoded = try WireDecoder().decode(WireBatchOutcome<OutOfLineArrays>.self, from: outcome.joined)
        #expect(decoded.outputs == [Self.value, Self.value] && decoded.failures.isEmpty)

        let refused = try [UInt8]().withUnsafeBytes { registry.prepare(jobName: Refuse.jobName, input: $0) }.get()
        let failure = await refused.run(registry: registry, borrowingFrom: nil)
        #expect(throws: WireJobError.self) { try failure.get() }
    }

    @Test("an unknown job and undecodable bytes fail at prepare, as encoded errors")
    func prepareFailures() {
        let registry = JobRegistry([Mirror.self])
        let unknown = [UInt8]().withUnsafeBytes { registry.prepare(jobName: "Missing", input: $0) }
        #expect { try unknown.get() } throws: { ($0 as? WireJobError)?.description.contains("Missing") == true }
        let garbage = [UInt8]([1, 2]).withUnsafeBytes { registry.prepare(jobName: Mirror.jobName, input: $0) }
        #expect { try garbage.get() } throws: { ($0 as? WireJobError)?.description.contains("decode") == true }
    }
}
