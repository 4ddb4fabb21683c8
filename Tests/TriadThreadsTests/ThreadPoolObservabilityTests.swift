import Logging
import MetricsTestKit
import Testing
import TriadCore
import TriadTestSupport
import TriadThreads

private struct Square: Job {
    var n: Int
    func run() async throws -> Int { n * n }
}

private struct Fails: Job {
    func run() async throws -> Int { throw TestFailure(reason: "job") }
}

/// Sleeps until cancelled: an hour is far longer than any test waits.
private struct Hangs: Job {
    func run() async throws -> Bool {
        try await Task.sleep(for: .seconds(3600))
        return true
    }
}

@Suite("ThreadPoolExecutor logs and metrics")
struct ThreadPoolObservabilityTests {
    @Test("by default a thread pool logs nothing, and names itself in the records of a logger it is given")
    func silentByDefault() async {
        let quiet = ThreadPoolExecutor(workers: 1)
        #expect(quiet.logger.handler is SwiftLogNoOpLogHandler)
        await quiet.shutdown()
        let recorder = LogRecorder()
        let named = ThreadPoolExecutor(workers: 1, name: "crunch", logger: recorder.logger())
        #expect(named.logger[metadataKey: "pool"] == "crunch")
        await named.shutdown()
    }

    @Test("a thread pool counts jobs submitted, completed and failed by code, and times their waits and runs")
    func counts() async throws {
        let metrics = TestMetrics()
        let pool = ThreadPoolExecutor(workers: 1, name: "crunch", metricsFactory: metrics, metricsLabelPrefix: "test")
        for n in 0..<3 { #expect(try await pool.submit(Square(n: n)).value == n * n) }
        await #expect(throws: TestFailure.self) { try await pool.submit(Fails()).value }
        let late = try pool.submit(Hangs(), options: JobOptions(timeout: .milliseconds(50)))
        await #expect(throws: ExecutorError.self) { try await late.value }
        // A map counts its jobs, not the runners that run them.
        #expect(try await pool.map((0..<10).map { Square(n: $0) }).count == 10)
        #expect(try await pool.submit { 7 }.value == 7)
        await pool.shutdown()
        #expect(throws: ExecutorError.self) { try pool.submit(Square(n: 1)) }

        let square = [("pool", "crunch"), ("job", Square.jobName)]
        #expect(try metrics.expectCounter("test_jobs_submitted_total", square).totalValue == 14)
        #expect(try metrics.expectCounter("test_jobs_completed_total", square).totalValue == 13)
        #expect(try metrics.expectCounter("test_jobs_failed_total", square + [("code", "shutDown")]).totalValue == 1)
        let fails = [("pool", "crunch"), ("job", Fails.jobName), ("code", "jobError")]
        #expect(try metrics.expectCounter("test_jobs_failed_total", fails).totalValue == 1)
        let hangs = [("pool", "crunch"), ("job", Hangs.jobName), ("code", "timedOut")]
        #expect(try metrics.expectCounter("test_jobs_failed_total", hangs).totalValue == 1)
        let closure = [("pool", "crunch"), ("job", "closure")]
        #expect(try metrics.expectCounter("test_jobs_completed_total", closure).totalValue == 1)
        // A wait and a run for each job submitted alone; the map's jobs run back to back on their runners.
        #expect(try metrics.expectTimer("test_job_wait_seconds", square).values.count == 3)
        #expect(try metrics.expectTimer("test_job_run_seconds", square).values.count == 3)
        // The gauges end where the pool did: nothing waiting, nothing running, no thread.
        let poolOnly = [("pool", "crunch")]
        #expect(try metrics.expectGauge("test_queue_depth", poolOnly).lastValue == 0)
        #expect(try metrics.expectGauge("test_jobs_running", poolOnly).lastValue == 0)
        #expect(try metrics.expectGauge("test_jobs_running", poolOnly).values.contains(1))
        #expect(try metrics.expectGauge("test_workers_live", poolOnly).values.contains(1))
        #expect(try metrics.expectGauge("test_workers_live", poolOnly).lastValue == 0)
    }

    @Test("a job cancelled while it waits counts as cancelled, and a map cut short counts the jobs it never ran")
    func cancellations() async throws {
        let metrics = TestMetrics()
        let pool = ThreadPoolExecutor(workers: 1, metricsFactory: metrics)
        // The blocker holds the pool's one thread until the test opens the gate; a job that suspends (an async
        // sleep) would free the thread, and the job behind it could run and finish before it is cancelled.
        let gate = Event()
        let blocker = try pool.submit { () -> Bool in
            gate.wait()
            return true
        }
        let waiting = try pool.submit(Square(n: 2))
        #expect(waiting.cancel())
        #expect(blocker.cancel())
        gate.set()
        await #expect(throws: ExecutorError.self) { try await blocker.value }
        // The first job's failure ends the map; the jobs no runner took count as cancelled.
        let jobs: [Fails] = Array(repeating: Fails(), count: 50)
        await #expect(throws: TestFailure.self) { try await pool.map(jobs, options: MapOptions(maxInFlight: 1)) }
        await pool.shutdown()
        let square = [("pool", "triad-pool"), ("job", Square.jobName), ("code", "cancelled")]
        #expect(try metrics.expectCounter("triad_threads_jobs_failed_total", square).totalValue == 1)
        let fails = [("pool", "triad-pool"), ("job", Fails.jobName)]
        #expect(try metrics.expectCounter("triad_threads_jobs_submitted_total", fails).totalValue == 50)
        let failed = try metrics.expectCounter("triad_threads_jobs_failed_total", fails + [("code", "jobError")])
        let cancelled = try metrics.expectCounter("triad_threads_jobs_failed_total", fails + [("code", "cancelled")])
        #expect(failed.totalValue == 1)
        #expect(cancelled.totalValue == 49)
    }

    @Test("a timed-out job and a shutdown log notices, a failed job logs at debug, with pool, job and code")
    func logs() async throws {
        let recorder = LogRecorder()
        let pool = ThreadPoolExecutor(workers: 1, name: "crunch", logger: recorder.logger())
        let late = try pool.submit(Hangs(), options: JobOptions(timeout: .milliseconds(50)))
        await #expect(throws: ExecutorError.self) { try await late.value }
        await #expect(throws: TestFailure.self) { try await pool.submit(Fails()).value }
        await pool.shutdown()

        let timedOut = try #require(recorder.all.first { $0.level == .notice && $0.message.contains("timed out") })
        #expect(timedOut.metadata["pool"] == "crunch")
        #expect(timedOut.metadata["job"] == Hangs.jobName)
        #expect(timedOut.metadata["code"] == "timedOut")
        // Every failed job at debug, the timed-out one included.
        let failed = recorder.all.filter { $0.message.hasPrefix("job failed") }
        #expect(failed.allSatisfy { $0.level == .debug })
        #expect(failed.map { $0.metadata["job"] } == [Hangs.jobName, Fails.jobName])
        #expect(failed.map { $0.metadata["code"] } == ["timedOut", "jobError"])
        let shutdown = recorder.all.filter { $0.message.contains("shutting down") }
        #expect(shutdown.count == 1)
        #expect(shutdown.first?.level == .notice)
        #expect(shutdown.first?.metadata["pool"] == "crunch")
        // Nothing above debug but the notices: a healthy pool is quiet at the default level.
        #expect(recorder.all.allSatisfy { $0.level == .debug || $0.level == .notice })
    }
}
