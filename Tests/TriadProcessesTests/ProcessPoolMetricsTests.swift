import CoreMetrics
import MetricsTestKit
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

@Suite("Process pool metrics")
struct ProcessPoolMetricsTests {
    @Test("a pool counts jobs submitted, completed and failed by code, and worker restarts, and times waits and runs")
    func counts() async throws {
        let metrics = TestMetrics()
        let pool = TestPools.pool(workers: 1) {
            $0.metricsFactory = metrics
            $0.name = "thumbnails"
            $0.metricsLabelPrefix = "test_pool"
        }
        for value in 0..<3 { #expect(try await pool.submit(Square(value)).value == value * value) }
        await #expect(throws: TestFailure.self) { try await pool.submit(Throw(registered: true)).value }
        await #expect(throws: ExecutorError.self) { try await pool.submit(Crash(.segmentationFault)).value }
        #expect(try await pool.map((0..<20).map(Square.init), options: MapOptions(chunkSize: 5)).count == 20)
        let outcomes = try await pool.mapUnordered([MaybeFail(fail: false), MaybeFail(fail: true)]).collected()
        #expect(outcomes.count == 2)
        await pool.shutdown()

        let square = [("pool", "thumbnails"), ("job", Square.jobName)]
        #expect(try metrics.expectCounter("test_pool_jobs_submitted_total", square).totalValue == 23)
        #expect(try metrics.expectCounter("test_pool_jobs_completed_total", square).totalValue == 23)
        let thrown = [("pool", "thumbnails"), ("job", Throw.jobName), ("code", "jobError")]
        #expect(try metrics.expectCounter("test_pool_jobs_failed_total", thrown).totalValue == 1)
        let crashed = [("pool", "thumbnails"), ("job", Crash.jobName), ("code", "workerCrashed")]
        #expect(try metrics.expectCounter("test_pool_jobs_failed_total", crashed).totalValue == 1)
        let maybe = [("pool", "thumbnails"), ("job", MaybeFail.jobName)]
        #expect(try metrics.expectCounter("test_pool_jobs_completed_total", maybe).totalValue == 1)
        let maybeFailed = maybe + [("code", "jobError")]
        #expect(try metrics.expectCounter("test_pool_jobs_failed_total", maybeFailed).totalValue == 1)
        let poolOnly = [("pool", "thumbnails")]
        #expect(try metrics.expectCounter("test_pool_worker_restarts_total", poolOnly).totalValue == 1)
        // A wait for every message sent (three squares and the map's four chunks at least), a run time for each.
        #expect(try metrics.expectTimer("test_pool_job_wait_seconds", square).values.count >= 7)
        #expect(try metrics.expectTimer("test_pool_job_run_seconds", square).values.count >= 7)
        #expect(try metrics.expectTimer("test_pool_job_run_seconds", square).values.allSatisfy { $0 > 0 })
        // The gauges ended where the pool did: nothing queued, nothing in flight, no worker.
        #expect(try metrics.expectGauge("test_pool_queue_depth", poolOnly).lastValue == 0)
        #expect(try metrics.expectGauge("test_pool_messages_in_flight", poolOnly).lastValue == 0)
        #expect(try metrics.expectGauge("test_pool_workers_live", poolOnly).values.contains(1))
    }

    @Test("a cancelled job and a timed-out one count under their codes")
    func poolFailures() async throws {
        let metrics = TestMetrics()
        let pool = TestPools.pool(workers: 1) { $0.metricsFactory = metrics }
        let runaway = try pool.submit(Runaway(), options: JobOptions(timeout: .milliseconds(200)))
        await #expect(throws: ExecutorError.self) { try await runaway.value }
        let long = try pool.submit(Nap(milliseconds: 60_000))
        _ = long.cancel()
        await #expect(throws: ExecutorError.self) { try await long.value }
        await pool.shutdown()
        let timedOut = [("pool", "processes"), ("job", Runaway.jobName), ("code", "timedOut")]
        #expect(try metrics.expectCounter("triad_pool_jobs_failed_total", timedOut).totalValue == 1)
        let cancelled = [("pool", "processes"), ("job", Nap.jobName), ("code", "cancelled")]
        #expect(try metrics.expectCounter("triad_pool_jobs_failed_total", cancelled).totalValue == 1)
    }
}

extension AsyncSequence {
    /// Every element, in the order they come.
    fileprivate func collected() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
