import Testing
import TriadAsync
import TriadCore

private struct Quadruple: Job {
    var n: Int
    func run() async throws -> Int { n * 4 }
}

/// A timeout too long to express in nanoseconds means "no limit", never a trap.
@Suite("Async: endless timeouts")
struct EndlessTimeoutTests {
    @Test("a job and a map on the loop's executor take .seconds(.max) as no limit")
    func endless() async throws {
        let endless = Duration.seconds(Int64.max)
        let executor = EventLoopExecutor(maxConcurrent: 4)
        #expect(try await executor.submit(Quadruple(n: 2), options: JobOptions(timeout: endless)).value == 8)
        let values = try await executor.map((0..<50).map { Quadruple(n: $0) }, options: MapOptions(timeout: endless))
        #expect(values == (0..<50).map { $0 * 4 })
        await executor.shutdown()
    }
}
