import Testing
import TriadCore
@testable import TriadProcesses
import TriadProcessesTestSupport

@Suite("How map cuts its jobs into chunks")
struct ChunkPlanTests {
    @Test("small jobs: about four chunks per worker, like Pool.map, and a window of chunks per worker")
    func smallJobs() {
        let plan = ChunkPlan(count: 200_000, workers: 2, options: MapOptions(), jobBytes: 8)
        #expect(plan.chunkSize == 25_000)
        #expect(plan.chunkCount == 8)
        #expect(plan.window == SlidingWindowMap.defaultWindow(workers: 2))
        #expect(plan.range(of: 7) == 175_000..<200_000)
    }

    @Test("large jobs travel one by one, one per worker in flight, judged by the first job's encoding")
    func largeJobs() {
        let plan = ChunkPlan(count: 8, workers: 1, options: MapOptions(), jobBytes: 64 << 20)
        #expect(plan.chunkSize == 1)
        #expect(plan.window == 1)
        let big = Echo([UInt8](repeating: 1, count: 2 << 20))
        let measured = ChunkPlan(count: 8, workers: 2, options: MapOptions(), firstJob: big)
        #expect(measured.chunkSize == 1)
        #expect(measured.window == 2)
        let small = ChunkPlan(count: 8, workers: 2, options: MapOptions(), firstJob: Echo([1, 2, 3]))
        #expect(small.chunkSize == 1)
        #expect(small.window == SlidingWindowMap.defaultWindow(workers: 2))
    }

    @Test("explicit chunk sizes and windows win")
    func explicitOptions() {
        let plan = ChunkPlan(
            count: 100,
            workers: 2,
            options: MapOptions(maxInFlight: 30, chunkSize: 10),
            jobBytes: 64 << 20
        )
        #expect(plan.chunkSize == 10)
        #expect(plan.window == 3)
        #expect(plan.chunkCount == 10)
    }
}
