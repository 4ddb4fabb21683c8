import Logging
import Synchronization
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport
import TriadTestSupport

@Suite("Process pool logging")
struct ProcessPoolLoggingTests {
    @Test("by default a pool logs nothing, so a program's standard output stays its own")
    func silentByDefault() {
        #expect(ProcessPoolConfiguration(workers: 1).logger.handler is SwiftLogNoOpLogHandler)
    }

    @Test("a crash logs a warning naming the pool, the worker, the job, the code and the worker's last words")
    func crashIsLogged() async throws {
        let recorder = LogRecorder()
        let pool = TestPools.pool(workers: 1) {
            $0.logger = recorder.logger()
            $0.name = "thumbnails"
        }
        let crashing = try pool.submit(Crash(.fatalError))
        await #expect(throws: ExecutorError.self) { try await crashing.value }
        // The replacement worker still serves.
        #expect(try await pool.submit(Square(3)).value == 9)
        await pool.shutdown()
        let warning = try #require(recorder.all.first { $0.level == .warning })
        #expect(warning.message.contains("crashed"))
        #expect(warning.metadata["pool"] == "thumbnails")
        #expect(warning.metadata["job"] == Crash.jobName)
        #expect(warning.metadata["code"] == "workerCrashed")
        #expect(warning.metadata["worker.pid"].flatMap { Int32($0) } != nil)
        #expect(warning.metadata["stderr"]?.contains("a test job asked for a crash") == true)
        // The job's failure and the workers' starts log at debug.
        #expect(recorder.all.contains { $0.level == .debug && $0.message.hasPrefix("job failed") })
        #expect(recorder.all.count { $0.level == .debug && $0.message == "worker started" } >= 2)
    }

    @Test("a timeout kill logs a notice; a draining shutdown logs a notice; nothing below the logger's level")
    func killAndDrainAreLogged() async throws {
        let recorder = LogRecorder()
        let pool = TestPools.pool(workers: 1) { $0.logger = recorder.logger(level: .notice) }
        let runaway = try pool.submit(Runaway(), options: JobOptions(timeout: .milliseconds(200)))
        await #expect(throws: ExecutorError.self) { try await runaway.value }
        // A job that is still queued or running when the shutdown begins, however fast the machine.
        let long = try pool.submit(Nap(milliseconds: 60_000))
        await pool.shutdown(wait: false, cancelPending: false)
        await pool.kill()
        await #expect(throws: ExecutorError.self) { try await long.value }
        let records = recorder.all
        let kill = try #require(records.first { $0.message.contains("killed a worker") })
        #expect(kill.level == .notice)
        #expect(kill.message.contains("timeout"))
        #expect(kill.metadata["job"] == Runaway.jobName)
        let drain = try #require(records.first { $0.message.hasPrefix("shutting down") })
        #expect(drain.level == .notice)
        #expect(drain.metadata["cancelPending"] == "false")
        #expect(records.allSatisfy { $0.level >= .notice })
    }
}
