import Logging
import MetricsTestKit
import Testing
import TriadAsync
import TriadCore
import TriadTestSupport

@Suite("EventLoopExecutor logs and metrics")
struct ExecutorObservabilityTests {
    @Test("by default the executor logs nothing; given a logger, it names itself in each record")
    func loggers() async {
        let quiet = EventLoopExecutor()
        #expect(quiet.logger.handler is SwiftLogNoOpLogHandler)
        await quiet.shutdown()
        let recorder = LogRecorder()
        let named = EventLoopExecutor(name: "fetch", logger: recorder.logger())
        #expect(named.logger[metadataKey: "pool"] == "fetch")
        await named.shutdown()
        #expect(recorder.all.contains { $0.message.contains("shutting down") && $0.metadata["pool"] == "fetch" })
    }

    @Test("the executor counts jobs submitted, completed and failed by code, and times their waits and runs")
    func counts() async throws {
        let metrics = TestMetrics()
        let executor = EventLoopExecutor(maxConcurrent: 1, name: "fetch", metricsFactory: metrics)
        for value in 0..<3 {
            #expect(try await executor.submit(SleepJob(milliseconds: 0, value: value)).value == value)
        }
        await #expect(throws: Boom.self) { try await executor.submit(FailingJob()).value }
        let hour = SleepJob(milliseconds: 3_600_000, value: 0)
        let late = try executor.submit(hour, options: JobOptions(timeout: .milliseconds(50)))
        await #expect(throws: ExecutorError.self) { try await late.value }
        // A map counts its jobs, not the runners that run them.
        #expect(try await executor.map((0..<10).map { SleepJob(milliseconds: 0, value: $0) }).count == 10)
        // One job at a time: the second waits for a slot, and cancelled while it waits, counts as cancelled.
        let first = try executor.submit(GatedJobForMetrics())
        let second = try executor.submit(SleepJob(milliseconds: 0, value: 9))
        #expect(second.cancel())
        GatedJobForMetrics.gate.set()
        _ = try await first.value
        await executor.shutdown()

        let prefix = "triad_loop_executor"
        let sleep = [("pool", "fetch"), ("job", SleepJob.jobName)]
        #expect(try metrics.expectCounter(prefix + "_jobs_submitted_total", sleep).totalValue == 15)
        #expect(try metrics.expectCounter(prefix + "_jobs_completed_total", sleep).totalValue == 13)
        let failed = prefix + "_jobs_failed_total"
        #expect(try metrics.expectCounter(failed, sleep + [("code", "timedOut")]).totalValue == 1)
        #expect(try metrics.expectCounter(failed, sleep + [("code", "cancelled")]).totalValue == 1)
        let failing = [("pool", "fetch"), ("job", FailingJob.jobName), ("code", "jobError")]
        #expect(try metrics.expectCounter(prefix + "_jobs_failed_total", failing).totalValue == 1)
        // A wait and a run for each job that started alone: three quick ones and the timed-out one.
        #expect(try metrics.expectTimer(prefix + "_job_wait_seconds", sleep).values.count == 4)
        #expect(try metrics.expectTimer(prefix + "_job_run_seconds", sleep).values.count == 4)
        let poolOnly = [("pool", "fetch")]
        #expect(try metrics.expectGauge(prefix + "_queue_depth", poolOnly).values.contains(1))
        #expect(try metrics.expectGauge(prefix + "_queue_depth", poolOnly).lastValue == 0)
        #expect(try metrics.expectGauge(prefix + "_jobs_running", poolOnly).lastValue == 0)
    }

    @Test("a timed-out job logs a notice and a failed one a debug record, with job and code")
    func logs() async throws {
        let recorder = LogRecorder()
        let executor = EventLoopExecutor(name: "fetch", logger: recorder.logger())
        let hour = SleepJob(milliseconds: 3_600_000, value: 0)
        let late = try executor.submit(hour, options: JobOptions(timeout: .milliseconds(50)))
        await #expect(throws: ExecutorError.self) { try await late.value }
        await #expect(throws: Boom.self) { try await executor.submit(FailingJob()).value }
        await executor.shutdown()
        let timedOut = try #require(recorder.all.first { $0.level == .notice && $0.message.contains("timed out") })
        #expect(timedOut.metadata["pool"] == "fetch")
        #expect(timedOut.metadata["job"] == SleepJob.jobName)
        #expect(timedOut.metadata["code"] == "timedOut")
        let failed = recorder.all.filter { $0.message.hasPrefix("job failed") }
        #expect(failed.allSatisfy { $0.level == .debug })
        #expect(failed.map { $0.metadata["code"] } == ["timedOut", "jobError"])
    }
}

/// Waits for the metrics test to open its gate, so that the job after it waits for a slot for as long as the test
/// needs.
private struct GatedJobForMetrics: Job {
    static let gate = AsyncEvent()
    func run() async throws -> Int {
        try await Self.gate.wait()
        return 0
    }
}
