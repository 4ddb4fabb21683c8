import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadTestSupport
import TriadWireMacros
import TriadWireMacrosTestJobs

/// The derived wire form against hand-written and plain `Codable` ones: the same bytes, and back again.
@Suite struct DerivedWireFormTests {
    @Test func theReadmeJobEncodesLikeItsHandWrittenTwin() throws {
        for points in [0, -1.5, 1e300, .infinity] {
            let derived = try WireEncoder().encode(MacroScore(points: points))
            let hand = try WireEncoder().encode(HandScore(points: points))
            #expect(derived == hand)
            #expect(try WireDecoder().decode(MacroScore.self, from: hand) == MacroScore(points: points))
        }
        // In bulk, as a map sends them.
        let many = (0..<100).map { MacroScore(points: Double($0)) }
        let bytes = try WireEncoder().encode(many)
        #expect(bytes == (try WireEncoder().encode(many.map { HandScore(points: $0.points) })))
        #expect(try WireDecoder().decode([MacroScore].self, from: bytes) == many)
    }

    @Test(arguments: 0..<12)
    func everyKindOfPropertyEncodesLikeSynthesizedCodable(seed: Int) throws {
        let mixed = MacroMixed(seed: seed)
        let derived = try WireEncoder().encode(mixed)
        // CodableMixed has no wire form of its own, so the codec takes its synthesized Codable conformance.
        let synthesized = try WireEncoder().encode(CodableMixed(mixed))
        #expect(derived == synthesized)
        #expect(try WireDecoder().decode(MacroMixed.self, from: derived) == mixed)
        // And straight through the writer and the reader, as a job's header carries it.
        var writer = WireWriter()
        try mixed.encode(to: &writer)
        #expect(writer.bytes == derived)
    }

    @Test func aGenericStructRoundTrips() throws {
        let pair = MacroPair(MacroPoint(x: 1, y: 2), ["a", "b"])
        let bytes = try WireEncoder().encode(pair)
        #expect(bytes == (try WireEncoder().encode(CodablePairTwin(first: pair.first, second: pair.second))))
        #expect(try WireDecoder().decode(MacroPair<MacroPoint, [String]>.self, from: bytes) == pair)
    }

    @Test func enumsRoundTripWithTheirCaseIndex() throws {
        let shapes: [MacroShape] = [
            .circle(radius: 2), .rectangle(3, 4), .labelled("a", at: MacroPoint(x: 5, y: 6), tags: ["t"]),
            .labelled("b", at: nil, tags: []), .empty, .unknown,
        ]
        for (shape, tag) in zip(shapes, [0, 1, 2, 2, 3, 4] as [UInt8]) {
            let bytes = try WireEncoder().encode(shape)
            #expect(bytes.first == tag)
            #expect(try WireDecoder().decode(MacroShape.self, from: bytes) == shape)
        }
        var writer = WireWriter()
        writer.write(Double(2))
        #expect(try WireEncoder().encode(MacroShape.circle(radius: 2)) == [0] + writer.bytes)
    }

    @Test func badBytesAreWireErrors() throws {
        let error = #expect(throws: WireError.self) { try WireDecoder().decode(MacroShape.self, from: [9]) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("9 is not the index of a case of MacroShape") == true)
        let truncated = try WireEncoder().encode(MacroMixed(seed: 5)).dropLast(3)
        #expect(throws: WireError.self) { try WireDecoder().decode(MacroMixed.self, from: Array(truncated)) }
        // A presence byte other than 0 or 1.
        #expect(throws: WireError.self) {
            try WireDecoder().decode(MacroPair<Int?, Int>.self, from: [7] + [UInt8](repeating: 0, count: 16))
        }
    }

    @Test func theMemberwiseInitializerStaysUsable() throws {
        let value = NoInitializer(a: 1, b: nil)
        #expect(try WireDecoder().decode(NoInitializer.self, from: try WireEncoder().encode(value)) == value)
    }
}

/// A derived type that declares no initializer: the conformance lives in an extension, so the memberwise one stays.
@WireCodable
private struct NoInitializer: Codable, Equatable {
    var a: Int
    var b: String?
}

/// ``MacroPair`` as plain `Codable`.
private struct CodablePairTwin: Codable {
    var first: MacroPoint
    var second: [String]
}

/// Derived jobs in a real process pool, run by the worker program that knows them.
@Suite(.serialized) struct DerivedJobsInAPoolTests {
    static var workerPath: String { TestPrograms.path(of: "TriadWireMacrosTestWorker") }

    func pool() -> ProcessPoolExecutor {
        var configuration = ProcessPoolConfiguration(workers: 2)
        configuration.executable = WorkerExecutable(path: Self.workerPath)
        configuration.registry = JobRegistry(MacroTestJobs.all)
        return ProcessPoolExecutor(configuration: configuration)
    }

    @Test func submitAndMap() async throws {
        let pool = pool()
        let job = MacroDouble(point: MacroPoint(x: 3, y: -4), shape: .labelled("x", at: nil, tags: ["y"]))
        let result = try await pool.submit(job).value
        #expect(result == MacroPair(MacroPoint(x: 6, y: -8), .labelled("x", at: nil, tags: ["y"])))

        let scores = (0..<20_000).map { MacroScore(points: Double($0)) }
        #expect(try await pool.map(scores) == (0..<20_000).map { Double($0) * 2 })
        let shapes: [MacroShape] = [.circle(radius: 1), .rectangle(1, 2), .empty]
        let jobs = (0..<3000).map { MacroDouble(point: MacroPoint(x: Int32($0), y: 1), shape: shapes[$0 % 3]) }
        let doubled = try await pool.map(jobs)
        #expect(doubled.map(\.first.x) == (0..<3000).map { Int32($0) * 2 })
        #expect(doubled.map(\.second) == jobs.map(\.shape))
        await pool.shutdown()
    }
}
