import Synchronization
import Testing
import TriadCore

/// The smallest real executor: each job runs in its own task. It exercises the core's default `map` and
/// `mapUnordered` without depending on a model module.
private final class TaskPerJobExecutor: Executor {
    let workerCount = 3
    let running = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    let submitted = Atomic<Int>(0)

    func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        submitted.add(1, ordering: .relaxed)
        let handle = JobHandle<J.Output>(jobName: J.jobName)
        let task = Task {
            guard handle.markRunning() else { return }
            let now = running.add(1, ordering: .relaxed).newValue
            peak.max(now, ordering: .relaxed)
            let outcome: Result<J.Output, any Error>
            do { outcome = .success(try await job.run()) } catch { outcome = .failure(error) }
            running.subtract(1, ordering: .relaxed)
            handle.complete(outcome)
        }
        handle.setCancelHandler { _ in task.cancel() }
        return handle
    }

    func shutdown(wait: Bool, cancelPending: Bool) async {}
}

private struct Sleepy: Job {
    var index: Int
    var fail: Bool = false
    func run() async throws -> Int {
        try await Task.sleep(for: .milliseconds(index % 3 + 1))
        if fail { throw ExecutorError(.jobFailed, jobName: Self.jobName, message: "job \(index) failed on purpose") }
        return index * 2
    }
}

@Suite("Default map")
struct SlidingWindowMapTests {
    @Test("map returns values in order with at most maxInFlight running, and reports progress")
    func ordered() async throws {
        let executor = TaskPerJobExecutor()
        let reports = Mutex<[Int]>([])
        let options = MapOptions(maxInFlight: 4) { progress in
            reports.withLock { $0.append(progress.completed) }
            #expect(progress.total == 50)
        }
        let values = try await executor.map((0..<50).map { Sleepy(index: $0) }, options: options)
        #expect(values == (0..<50).map { $0 * 2 })
        #expect(executor.peak.load(ordering: .relaxed) <= 4)
        #expect(reports.withLock { $0.sorted() } == Array(1...50))
    }

    @Test("the first failure is thrown and the rest are not all submitted")
    func failure() async {
        let executor = TaskPerJobExecutor()
        let jobs = (0..<200).map { Sleepy(index: $0, fail: $0 == 5) }
        await #expect { try await executor.map(jobs, options: MapOptions(maxInFlight: 2)) } throws: {
            ($0 as? ExecutorError)?.message.contains("job 5 failed") == true
        }
        #expect(executor.submitted.load(ordering: .relaxed) < 200)
    }

    @Test("an empty map returns at once")
    func empty() async throws {
        let values = try await TaskPerJobExecutor().map([Sleepy]())
        #expect(values.isEmpty)
    }

    @Test("mapUnordered yields every outcome, failures included, tagged by index")
    func unordered() async {
        let executor = TaskPerJobExecutor()
        var seen: [Int: Result<Int, any Error>] = [:]
        for await completion in executor.mapUnordered((0..<30).map { Sleepy(index: $0, fail: $0 % 10 == 0) }) {
            seen[completion.index] = completion.result
        }
        #expect(seen.count == 30)
        #expect(seen.values.filter { (try? $0.get()) == nil }.count == 3)
        #expect((try? seen[7]?.get()) == 14)
    }

    @Test("cancelling the calling task cancels the map")
    func cancellation() async {
        let executor = TaskPerJobExecutor()
        let mapping = Task {
            try await executor.map((0..<10_000).map { Sleepy(index: $0) }, options: MapOptions(maxInFlight: 2))
        }
        try? await Task.sleep(for: .milliseconds(20))
        mapping.cancel()
        await #expect { try await mapping.value } throws: { ($0 as? ExecutorError)?.code == .cancelled }
        #expect(executor.submitted.load(ordering: .relaxed) < 10_000)
    }
}
