import Logging
import Testing
import TriadAsync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("The watchdog")
struct WatchdogTests {
    @Test("a step that blocks the loop is reported, naming its task")
    func reportsBlockingStep() async throws {
        let (logger, store) = CapturingLogHandler.make()
        let options = AsyncLoop.Options(watchdogThreshold: .milliseconds(50), logger: logger)
        try await AsyncLoop.run(options: options) { loop in
            let blocker = loop.createTask(name: "blocker") {
                _ = usleep(400_000)  // blocks the loop thread on purpose
            }
            try await blocker.value
        }
        let reports = store.all.filter { $0.0 == .warning }
        #expect(reports.count == 1)
        #expect(reports.first?.1.contains("task 'blocker'") == true)
        #expect(reports.first?.2["triad.task"] == "blocker")
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
