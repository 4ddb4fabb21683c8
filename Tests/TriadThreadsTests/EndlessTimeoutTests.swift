import Testing
import TriadCore
import TriadThreads

private struct Triple: Job {
    var n: Int
    func run() async throws -> Int { n * 3 }
}

/// A timeout too long to express in nanoseconds means "no limit", never a trap.
@Suite("Threads: endless timeouts")
struct EndlessTimeoutTests {
    @Test("a job, a map and a blocking queue take .seconds(.max) as no limit")
    func endless() async throws {
        let endless = Duration.seconds(Int64.max)
        let pool = ThreadPoolExecutor(workers: 2)
        #expect(try await pool.submit(Triple(n: 2), options: JobOptions(timeout: endless)).value == 6)
        let values = try await pool.map((0..<50).map { Triple(n: $0) }, options: MapOptions(timeout: endless))
        #expect(values == (0..<50).map { $0 * 3 })
        await pool.shutdown()
        let queue = BlockingQueue<Int>(maxSize: 1)
        try await queue.put(7, timeout: endless)
        #expect(try await queue.get(timeout: endless) == 7)
    }
}
