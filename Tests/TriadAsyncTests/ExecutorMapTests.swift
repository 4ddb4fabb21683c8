import Synchronization
import Testing
import TriadAsync
import TriadCore
import TriadTestSupport

/// Each test's count of running jobs, and the gate its jobs from a given index on wait for.
private let counter = Keyed { Occupancy() }
private let gate = Keyed { AsyncEvent() }

/// Sleeps on its loop's clock, counted in its test's counter; fails if its index is `failAt`; from index
/// `gatedFrom` on, first waits for its test's gate.
private struct LoopNap: Job {
    var key: String
    var index: Int
    var milliseconds = 2
    var failAt: Int?
    var gatedFrom: Int?

    func run() async throws -> Int {
        let running = counter(key)
        running.enter()
        defer { running.leave() }
        if index == failAt { throw Boom(id: index) }
        if let gatedFrom, index >= gatedFrom { try await gate(key).wait() }
        guard let loop = AsyncLoop.current else { throw Boom(id: -1) }
        try await loop.sleep(for: .milliseconds(milliseconds))
        return index
    }
}

private struct Increment: Job {
    var n: Int
    func run() async throws -> Int { n + 1 }
}

@Suite("EventLoopExecutor.map")
struct ExecutorMapTests {
    @Test("fifty thousand tiny jobs come back in order, with a progress report after each")
    func manyTinyJobs() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 64)
        let reports = Atomic<Int>(0)
        let values = try await executor.map(
            (0..<50_000).map { Increment(n: $0) },
            options: MapOptions(progress: { _ in reports.add(1, ordering: .relaxed) })
        )
        #expect(values == (1...50_000).map { $0 })
        #expect(reports.load(ordering: .relaxed) == 50_000)
        await executor.shutdown()
    }

    @Test("jobs find their loop, and no more run at once than maxInFlight or workerCount")
    func concurrencyLimits() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 8)
        let values = try await executor.map(
            (0..<60).map { LoopNap(key: "in-flight-3", index: $0) },
            options: MapOptions(maxInFlight: 3)
        )
        #expect(values == Array(0..<60))
        #expect(counter("in-flight-3").most == 3)
        _ = try await executor.map((0..<60).map { LoopNap(key: "workers-8", index: $0) })
        #expect(counter("workers-8").most == 8)
        await executor.shutdown()
    }

    @Test("the first failure is thrown, and the jobs after it mostly never start")
    func firstFailureStops() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 4)
        await #expect(throws: Boom(id: 5)) {
            try await executor.map((0..<1000).map { LoopNap(key: "fail", index: $0, failAt: 5) })
        }
        #expect(counter("fail").started < 100)
        await executor.shutdown()
    }

    @Test("cancelling the caller cancels the running jobs and throws cancelled")
    func callerCancellation() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 4)
        let mapping = Task {
            try await executor.map((0..<40).map { LoopNap(key: "cancel", index: $0, milliseconds: 60_000) })
        }
        while counter("cancel").started < 4 { try await Task.sleep(for: .milliseconds(5)) }
        mapping.cancel()
        do {
            _ = try await mapping.value
            Issue.record("the map finished despite the cancellation")
        } catch let error as ExecutorError {
            #expect(error.code == .cancelled)
        }
        // The sleeping jobs were cancelled, so the executor shuts down at once.
        await executor.shutdown()
        #expect(counter("cancel").started < 40)
    }

    @Test("an executor shut down in the middle of a map ends it with shutDown")
    func shutdownDuringMap() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 2)
        // The jobs from the 20th on wait for the gate, so the map cannot end before the shutdown.
        let mapping = Task {
            try await executor.map(
                (0..<2000).map { LoopNap(key: "shutdown", index: $0, milliseconds: 1, gatedFrom: 20) }
            )
        }
        while counter("shutdown").started < 20 { try await Task.sleep(for: .milliseconds(5)) }
        await executor.shutdown(wait: false, cancelPending: false)
        gate("shutdown").set()
        do {
            _ = try await mapping.value
            Issue.record("the map ran every job after the shutdown")
        } catch let error as ExecutorError {
            #expect(error.code == .shutDown)
        }
        #expect(counter("shutdown").started < 2000)
    }

    @Test("mapUnordered yields every outcome once, a failure among them, and stops when the iteration ends")
    func unordered() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 16)
        var seen: [Int: Result<Int, any Error>] = [:]
        for await completion in executor.mapUnordered(
            (0..<500).map { LoopNap(key: "unordered", index: $0, milliseconds: 0, failAt: 7) }
        ) {
            #expect(seen[completion.index] == nil)
            seen[completion.index] = completion.result
        }
        #expect(seen.count == 500)
        #expect((try? seen[5]?.get()) == 5)
        #expect(throws: Boom(id: 7)) { try seen[7]?.get() }
        // The jobs from the 100th on wait for the gate, so the stream cannot end before the iteration does.
        var taken = 0
        let many = (0..<5000).map { LoopNap(key: "unordered-stop", index: $0, milliseconds: 0, gatedFrom: 100) }
        for await _ in executor.mapUnordered(many) {
            taken += 1
            if taken == 10 { break }
        }
        gate("unordered-stop").set()
        await executor.shutdown()
        #expect(counter("unordered-stop").started < 5000)
    }

    @Test("after a shutdown, mapUnordered yields shutDown for every job not yet started")
    func unorderedShutdown() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 2)
        let outcomes = Task {
            var codes: [Int: ExecutorError.Code?] = [:]
            let jobs = (0..<2000).map { LoopNap(key: "unordered-shutdown", index: $0, milliseconds: 0, gatedFrom: 20) }
            for await completion in executor.mapUnordered(jobs) {
                switch completion.result {
                case .success: codes[completion.index] = .some(nil)
                case .failure(let error): codes[completion.index] = (error as? ExecutorError)?.code
                }
            }
            return codes
        }
        while counter("unordered-shutdown").started < 20 { try await Task.sleep(for: .milliseconds(5)) }
        await executor.shutdown(wait: false, cancelPending: false)
        gate("unordered-shutdown").set()
        let codes = await outcomes.value
        #expect(codes.count == 2000)
        #expect(codes.values.contains { $0 == .shutDown })
        #expect(codes.values.allSatisfy { $0 == nil || $0 == .shutDown })
    }

    @Test("with a timeout each job is timed on its own, and one that overruns fails the map with timedOut")
    func perJobTimeout() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 4)
        do {
            _ = try await executor.map(
                [LoopNap(key: "timeout", index: 0, milliseconds: 60_000)],
                options: MapOptions(timeout: .milliseconds(50))
            )
            Issue.record("the map finished despite the timeout")
        } catch let error as ExecutorError {
            #expect(error.code == .timedOut)
        }
        await executor.shutdown()
    }
}
