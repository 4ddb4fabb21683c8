import Foundation
import Synchronization
import Testing
import TriadCore
import TriadTestSupport
import TriadThreads

/// Each test's count of running jobs, and the gate its jobs from a given index on wait for.
private let occupancy = Keyed { Occupancy() }
private let gate = Keyed { Event() }

/// Blocks its thread for a while, counted in its test's occupancy; fails if its index is `failAt`; from index
/// `gatedFrom` on, first waits for its test's gate.
private struct Counted: Job {
    var key: String
    var index: Int
    var microseconds: UInt32 = 2000
    var failAt: Int?
    var gatedFrom: Int?

    func run() async throws -> Int {
        let counter = occupancy(key)
        counter.enter()
        defer { counter.leave() }
        if index == failAt { throw TestFailure(reason: "job \(index)") }
        if let gatedFrom, index >= gatedFrom { try await gate(key).wait() }
        usleep(microseconds)
        return index
    }
}

/// Waits, cancellably, far longer than any test.
private struct Waits: Job {
    var key: String
    func run() async throws -> Bool {
        occupancy(key).enter()
        defer { occupancy(key).leave() }
        try await Task.sleep(for: .seconds(60))
        return true
    }
}

private struct Twice: Job {
    var n: Int
    func run() async throws -> Int { n * 2 }
}

@Suite("ThreadPoolExecutor.map")
struct ThreadPoolMapTests {
    @Test("a hundred thousand tiny jobs come back in order, with a progress report after each")
    func manyTinyJobs() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let reports = Atomic<Int>(0)
        let last = Atomic<Int>(0)
        let values = try await pool.map(
            (0..<100_000).map { Twice(n: $0) },
            options: MapOptions(progress: { progress in
                reports.add(1, ordering: .relaxed)
                last.max(progress.completed, ordering: .relaxed)
            })
        )
        #expect(values == (0..<100_000).map { $0 * 2 })
        #expect(reports.load(ordering: .relaxed) == 100_000)
        #expect(last.load(ordering: .relaxed) == 100_000)
        await pool.shutdown()
    }

    @Test("no more jobs run at once than maxInFlight, nor than the pool has threads")
    func concurrencyLimits() async throws {
        let pool = ThreadPoolExecutor(workers: 4)
        _ = try await pool.map(
            (0..<40).map { Counted(key: "limit-3", index: $0) },
            options: MapOptions(maxInFlight: 3)
        )
        #expect(occupancy("limit-3").most <= 3)
        #expect(occupancy("limit-3").started == 40)
        _ = try await pool.map((0..<40).map { Counted(key: "limit-default", index: $0) })
        #expect(occupancy("limit-default").most <= 4)
        await pool.shutdown()
    }

    @Test("the first failure is thrown, and the jobs after it mostly never start")
    func firstFailureStops() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        await #expect(throws: TestFailure(reason: "job 10")) {
            try await pool.map((0..<2000).map { Counted(key: "fail", index: $0, microseconds: 500, failAt: 10) })
        }
        // Only the jobs the runners had already taken may start after the failure.
        #expect(occupancy("fail").started < 100)
        await pool.shutdown()
    }

    @Test("cancelling the caller cancels the running jobs and throws cancelled")
    func callerCancellation() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let mapping = Task { try await pool.map((0..<20).map { _ in Waits(key: "cancel") }) }
        while occupancy("cancel").started < 2 { try await Task.sleep(for: .milliseconds(5)) }
        mapping.cancel()
        do {
            _ = try await mapping.value
            Issue.record("the map finished despite the cancellation")
        } catch let error as ExecutorError {
            #expect(error.code == .cancelled)
        }
        // The waiting jobs were cancelled, so the pool's threads come free and shut down promptly.
        await pool.shutdown()
        #expect(occupancy("cancel").started < 20)
    }

    @Test("a pool shut down in the middle of a map ends it with shutDown")
    func shutdownDuringMap() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        // The jobs from the 40th on wait for the gate, so the map cannot end before the shutdown, however slowly
        // this test's task gets to run.
        let mapping = Task {
            try await pool.map((0..<5000).map { Counted(key: "shutdown", index: $0, microseconds: 200, gatedFrom: 40) })
        }
        while occupancy("shutdown").started < 40 { try await Task.sleep(for: .milliseconds(5)) }
        await pool.shutdown(wait: false, cancelPending: false)
        gate("shutdown").set()
        do {
            _ = try await mapping.value
            Issue.record("the map finished every job after the shutdown")
        } catch let error as ExecutorError {
            #expect(error.code == .shutDown)
        }
        await pool.shutdown()
        #expect(occupancy("shutdown").started < 5000)
    }

    @Test("with a timeout each job is timed on its own, and one that overruns fails the map with timedOut")
    func perJobTimeout() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        // The job sleeps for a minute: only its timeout ends the map sooner, which the error says.
        do {
            _ = try await pool.map(
                [Waits(key: "timeout")],
                options: MapOptions(timeout: .milliseconds(100))
            )
            Issue.record("the map finished despite the timeout")
        } catch let error as ExecutorError {
            #expect(error.code == .timedOut)
        }
        await pool.shutdown()
    }

    @Test("mapUnordered yields every outcome once, a failure among them, and stops when the iteration ends")
    func unordered() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        var seen: [Int: Result<Int, any Error>] = [:]
        for await completion in pool.mapUnordered(
            (0..<3000).map { Counted(key: "unordered", index: $0, microseconds: 0, failAt: 7) }
        ) {
            #expect(seen[completion.index] == nil)
            seen[completion.index] = completion.result
        }
        #expect(seen.count == 3000)
        #expect((try? seen[5]?.get()) == 5)
        #expect(throws: TestFailure(reason: "job 7")) { try seen[7]?.get() }
        var taken = 0
        // The jobs from the 100th on wait for the gate, so the stream cannot end before the iteration does.
        let many = (0..<5000).map { Counted(key: "unordered-stop", index: $0, microseconds: 100, gatedFrom: 100) }
        for await _ in pool.mapUnordered(many) {
            taken += 1
            if taken == 10 { break }
        }
        gate("unordered-stop").set()
        await pool.shutdown()
        #expect(occupancy("unordered-stop").started < 5000)
    }

    @Test("after a shutdown, mapUnordered yields shutDown for every job not yet started")
    func unorderedShutdown() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let outcomes = Task {
            var codes: [Int: ExecutorError.Code?] = [:]
            let jobs = (0..<3000).map {
                Counted(key: "unordered-shutdown", index: $0, microseconds: 100, gatedFrom: 40)
            }
            for await completion in pool.mapUnordered(jobs) {
                switch completion.result {
                case .success: codes[completion.index] = .some(nil)
                case .failure(let error): codes[completion.index] = (error as? ExecutorError)?.code
                }
            }
            return codes
        }
        while occupancy("unordered-shutdown").started < 40 { try await Task.sleep(for: .milliseconds(5)) }
        await pool.shutdown(wait: false, cancelPending: false)
        gate("unordered-shutdown").set()
        let codes = await outcomes.value
        #expect(codes.count == 3000)
        #expect(codes.values.contains { $0 == .shutDown })
        #expect(codes.values.allSatisfy { $0 == nil || $0 == .shutDown })
        await pool.shutdown()
    }

    @Test("a map of no jobs returns at once, and a map after shutdown throws shutDown")
    func emptyAndShutDown() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        #expect(try await pool.map([Twice]()).isEmpty)
        await pool.shutdown()
        do {
            _ = try await pool.map([Twice(n: 1)])
            Issue.record("a shut-down pool ran a map")
        } catch let error as ExecutorError {
            #expect(error.code == .shutDown)
        }
    }
}
