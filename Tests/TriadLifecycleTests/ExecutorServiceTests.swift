import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TriadCore
import TriadLifecycle
import TriadTestSupport
import TriadThreads

/// The lifecycle test program, built beside the test runner.
private var programPath: String { TestPrograms.path(of: "TriadLifecycleTestProgram") }

/// A running lifecycle test program and the lines it has printed.
private final class Program: Sendable {
    let process: Foundation.Process
    private let lines = Mutex<[String]>([])
    private let changed = Mutex<[CheckedContinuation<Void, Never>]>([])

    init(jobs: Int, jobMilliseconds: Int, graceMilliseconds: Int, cancelPending: Bool) throws {
        process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: programPath)
        process.arguments = ["\(jobs)", "\(jobMilliseconds)", "\(graceMilliseconds)", cancelPending ? "1" : "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let handle = output.fileHandleForReading
        let thread = Foundation.Thread { [self] in
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLock { $0.append(line) }
                    wakeWaiters()
                }
            }
            lines.withLock { $0.append("<end>") }
            wakeWaiters()
        }
        thread.start()
    }

    var output: [String] { lines.withLock { $0 } }

    private func wakeWaiters() {
        let waiters = changed.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for a line that starts with `prefix` (or the end of the output) and returns it.
    func line(startingWith prefix: String) async -> String? {
        await line { $0.hasPrefix(prefix) }
    }

    /// Waits for a line that contains `text` (or the end of the output) and returns it.
    func line(containing text: String) async -> String? {
        await line { $0.contains(text) }
    }

    private func line(where matches: (String) -> Bool) async -> String? {
        while true {
            let seen = output
            if let line = seen.first(where: matches) { return line }
            if seen.last == "<end>" { return nil }
            await withCheckedContinuation { continuation in
                let count = seen.count
                let now = lines.withLock { $0.count }
                if now != count {
                    continuation.resume()
                } else {
                    changed.withLock { $0.append(continuation) }
                    // A line that came between the count and the registration wakes nobody: look again.
                    if lines.withLock({ $0.count }) != count {
                        wakeWaiters()
                    }
                }
            }
        }
    }

    /// Sends `signal` to the program.
    func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the program to end, at most two minutes (a hang guard, not a timing), and returns its exit status,
    /// or minus the signal that ended it.
    func exitStatus() async -> Int32? {
        _ = await line(startingWith: "<end>")
        for _ in 0..<12_000 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else {
            // A hang: end it for good, so that no program outlives the test (its workers follow their parent).
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }
}

@Suite("Executors as services")
struct ExecutorServiceTests {
    @Test("SIGTERM drains a process pool: running and queued jobs finish, new ones are refused, no worker is left")
    func drainOnSigterm() async throws {
        let program = try Program(jobs: 6, jobMilliseconds: 300, graceMilliseconds: 60_000, cancelPending: false)
        let ready = try #require(await program.line(startingWith: "ready"))
        #expect(ready.split(separator: " ").count == 3)
        program.send(SIGTERM)
        #expect(await program.exitStatus() == 0)
        let output = program.output
        for index in 0..<6 { #expect(output.contains("job \(index) ok"), "\(output)") }
        #expect(output.contains("late shutDown"))
        #expect(output.contains("workers left 0"))
        #expect(output.contains { $0.contains("draining") })
        #expect(output.contains { $0.contains("drained: every accepted job finished") })
    }

    @Test("SIGTERM with cancelPending: the running jobs finish, the queued ones fail with shutDown")
    func drainCancellingPending() async throws {
        let program = try Program(jobs: 6, jobMilliseconds: 300, graceMilliseconds: 60_000, cancelPending: true)
        _ = try #require(await program.line(startingWith: "ready"))
        program.send(SIGTERM)
        #expect(await program.exitStatus() == 0)
        let output = program.output
        #expect(output.count { $0.hasSuffix(" ok") } == 2, "\(output)")
        #expect(output.count { $0.hasPrefix("job ") && $0.hasSuffix(" shutDown") } == 4, "\(output)")
        #expect(output.contains("workers left 0"))
    }

    @Test("jobs still running when the grace period ends are stopped: their workers are killed, the program exits 0")
    func gracePeriodOver() async throws {
        let program = try Program(jobs: 2, jobMilliseconds: 120_000, graceMilliseconds: 200, cancelPending: false)
        _ = try #require(await program.line(startingWith: "ready"))
        program.send(SIGTERM)
        #expect(await program.exitStatus() == 0)
        let output = program.output
        #expect(output.contains("job 0 cancelled") && output.contains("job 1 cancelled"), "\(output)")
        #expect(output.contains { $0.contains("grace period") })
        #expect(output.contains("workers left 0"))
    }

    @Test("a second signal during the drain stops the pool at once")
    func secondSignal() async throws {
        let program = try Program(jobs: 2, jobMilliseconds: 120_000, graceMilliseconds: 120_000, cancelPending: false)
        _ = try #require(await program.line(startingWith: "ready"))
        program.send(SIGTERM)
        // The drain has begun once the service says so.
        _ = try #require(await program.line(containing: "draining"))
        program.send(SIGINT)
        #expect(await program.exitStatus() == 0)
        let output = program.output
        #expect(output.contains("job 0 cancelled") && output.contains("job 1 cancelled"), "\(output)")
        #expect(output.contains("workers left 0"))
    }

    @Test("a thread pool in a service group drains its jobs at graceful shutdown")
    func threadPoolDrains() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let gate = Event()
        let handles = try (0..<4).map { index in
            try pool.submit { () -> Int in
                gate.wait()
                return index
            }
        }
        let service = ExecutorService(pool, name: "threads", drain: DrainPolicy(gracePeriod: .seconds(60)))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        // The drain has begun once the pool refuses new jobs.
        while pool.isAcceptingJobs { await Task.yield() }
        #expect(throws: ExecutorError.self) { _ = try pool.submit { () -> Int in 0 } }
        gate.set()
        try await running.value
        for (index, handle) in handles.enumerated() { #expect(try await handle.value == index) }
    }

    @Test("a service group cancelled before any shutdown stops its executor at once")
    func cancelledGroup() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let service = ExecutorService(pool, drain: DrainPolicy(gracePeriod: .seconds(60)))
        #expect(service.description == "ExecutorService(ThreadPoolExecutor)")
        let running = Task { try await service.run() }
        running.cancel()
        try await running.value
        #expect(!pool.isAcceptingJobs)
    }
}
