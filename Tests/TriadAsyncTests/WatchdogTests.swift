import Logging
import MetricsTestKit
import Testing
import TriadAsync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("The watchdog")
struct WatchdogTests {
    @Test("a step that blocks the loop is reported when it crosses the threshold, and with its whole length when it ends")
    func reportsBlockingStep() async throws {
        let (logger, store) = CapturingLogHandler.make()
        let metrics = TestMetrics()
        let options = AsyncLoop.Options(watchdogThreshold: .milliseconds(50), logger: logger, metricsFactory: metrics)
        try await AsyncLoop.run(options: options) { loop in
            let blocker = loop.createTask(name: "blocker") {
                _ = usleep(400_000)  // blocks the loop thread on purpose
            }
            try await blocker.value
        }
        let reports = store.all.filter { $0.0 == .warning }
        #expect(reports.count == 2, "\(reports)")
        #expect(reports.first?.1.contains("task 'blocker'") == true)
        #expect(reports.first?.1.contains("has been held") == true)
        #expect(reports.first?.2["triad.task"] == "blocker")
        // The step's end: at least the 400 ms it slept, whenever the first report came.
        let ended = try #require(reports.last)
        #expect(ended.1.contains("in all by task 'blocker'"))
        #expect(ended.2["triad.stepEnded"] == "true")
        #expect((ended.2["triad.heldMilliseconds"].flatMap { Int("\($0)") } ?? 0) >= 400)
        #expect(try metrics.expectCounter("triad_loop_stalls_total").totalValue == 1)
        let lengths = try metrics.expectTimer("triad_loop_stall_seconds").values
        #expect(lengths.count == 1 && lengths[0] >= 400_000_000)
    }

    @Test("steps that suspend in time are not reported")
    func quietWhenCooperative() async throws {
        let (logger, store) = CapturingLogHandler.make()
        let options = AsyncLoop.Options(watchdogThreshold: .milliseconds(200), logger: logger)
        try await AsyncLoop.run(options: options) { loop in
            for _ in 0..<10 { try await loop.sleep(for: .milliseconds(20)) }
        }
        #expect(store.all.filter { $0.0 == .warning }.isEmpty)
    }

    @Test("a nil threshold turns the watchdog off")
    func disabled() async throws {
        let (logger, store) = CapturingLogHandler.make()
        try await AsyncLoop.run(options: .init(watchdogThreshold: nil, logger: logger)) { _ in
            _ = usleep(150_000)
        }
        #expect(store.all.isEmpty)
    }
}
