import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Process pool basics", .serialized)
    struct ProcessPoolBasicsTests {
        @Test("submit runs a job in another process and returns its value")
        func submitRunsInWorker() async throws {
            let pool = TestPools.pool()
            #expect(try await pool.submit(Square(12)).value == 144)
            let pid = try await pool.submit(WhoAmI()).value
            #expect(pid != getpid())
            #expect(pool.workerCount == 2)
            await pool.shutdown()
        }

        @Test("many pipelined jobs all come back with the right values")
        func pipelined() async throws {
            let pool = TestPools.pool()
            let handles = try (0..<2000).map { try pool.submit(Square($0)) }
            for (index, handle) in handles.enumerated() {
                #expect(try await handle.value == index * index)
            }
            await pool.shutdown()
        }

        @Test("a large byte payload goes there and back intact")
        func largePayload() async throws {
            let pool = TestPools.pool(workers: 1)
            let bytes = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let echoed = try await pool.submit(Echo(bytes)).value
            #expect(echoed == bytes)
            await pool.shutdown()
        }

        @Test("map returns values in order, with automatic and explicit chunks")
        func mapOrdered() async throws {
            let pool = TestPools.pool()
            let jobs = (0..<5000).map(Square.init)
            #expect(try await pool.map(jobs) == (0..<5000).map { $0 * $0 })
            #expect(try await pool.map(jobs, options: MapOptions(chunkSize: 7)) == (0..<5000).map { $0 * $0 })
            #expect(try await pool.map([Square]()) == [])
            await pool.shutdown()
        }

        @Test("a job with its own wire functions runs through submit and map, and its decoding errors are typed")
        func wireCodableJob() async throws {
            let pool = TestPools.pool()
            #expect(try await pool.submit(FastSquare(12)).value == 144)
            let jobs = (0..<20_000).map(FastSquare.init)
            #expect(try await pool.map(jobs) == (0..<20_000).map { $0 * $0 })
            #expect(try await pool.map(jobs, options: MapOptions(chunkSize: 3)) == (0..<20_000).map { $0 * $0 })
            let error = executorError(await (try pool.submit(FastSquare(-1))).result)
            #expect(error?.code == .codingFailed)
            #expect(error.map { "\($0)" }?.contains("no negative numbers") == true)
            // One bad job in a mapped chunk fails the map with the same typed error, and the pool serves on.
            await #expect(throws: ExecutorError.self) { try await pool.map([FastSquare(1), FastSquare(-2)]) }
            #expect(try await pool.submit(FastSquare(3)).value == 9)
            await pool.shutdown()
        }

        @Test("mapUnordered yields every index once")
        func mapUnordered() async throws {
            let pool = TestPools.pool()
            var seen: [Int: Int] = [:]
            for await completion in pool.mapUnordered((0..<3000).map(Square.init)) {
                seen[completion.index] = try completion.result.get()
            }
            #expect(seen.count == 3000)
            #expect(seen[2999] == 2999 * 2999)
            await pool.shutdown()
        }

        @Test("map throws the first failing job's error; mapUnordered reports it for that index only")
        func mapFailures() async throws {
            let pool = TestPools.pool()
            let jobs = (0..<200).map { MaybeFail(fail: $0 == 150) }
            await #expect(throws: TestFailure(reason: "as asked")) { try await pool.map(jobs) }
            var failures: [Int] = []
            for await completion in pool.mapUnordered(jobs, options: MapOptions(chunkSize: 16)) {
                if case .failure(let error) = completion.result, error is TestFailure {
                    failures.append(completion.index)
                }
            }
            #expect(failures == [150])
            let crashed = await #expect(throws: ExecutorError.self) {
                try await pool.map([Crash(.exit3)])
            }
            #expect(crashed?.code == .workerCrashed)
            #expect(try await pool.map((0..<10).map(Square.init)) == (0..<10).map { $0 * $0 })
            await pool.shutdown()
        }

        @Test("map reports progress in items")
        func mapProgress() async throws {
            let pool = TestPools.pool()
            let last = LastProgress()
            _ = try await pool.map((0..<1000).map(Square.init), options: MapOptions(progress: { last.set($0) }))
            #expect(last.value == MapProgress(completed: 1000, total: 1000))
            await pool.shutdown()
        }

        @Test("a registered Codable error comes back as itself, others as RemoteJobError")
        func remoteErrors() async throws {
            let pool = TestPools.pool()
            let registered = await (try pool.submit(Throw(registered: true))).result
            #expect(throws: TestFailure(reason: "as asked")) { try registered.get() }
            let unregistered = await (try pool.submit(Throw(registered: false))).result
            #expect {
                try unregistered.get()
            } throws: { error in
                guard let remote = error as? RemoteJobError else { return false }
                return remote.typeName.hasSuffix("UnregisteredFailure") && remote.jobName == Throw.jobName
            }
            await pool.shutdown()
        }

        @Test("an initializer runs once in each worker before its jobs")
        func initializer() async throws {
            let pool = TestPools.pool { $0.initializer = SetMarker("ready") }
            #expect(try await pool.submit(ReadMarker()).value == "ready")
            await pool.shutdown()
        }

        @Test("a failing initializer fails the waiting jobs with workerStartFailed")
        func failingInitializer() async throws {
            let pool = TestPools.pool(workers: 1) { $0.initializer = SetMarker("fail") }
            let error = executorError(await (try pool.submit(ReadMarker())).result)
            #expect(error?.code == .workerStartFailed || error?.code == .cancelled)
            await pool.kill()
        }

        @Test("submit after shutdown throws shutDown; shutting down twice is fine")
        func shutdownTwice() async throws {
            let pool = TestPools.pool()
            #expect(pool.isAcceptingJobs)
            await pool.shutdown()
            #expect(!pool.isAcceptingJobs)
            await pool.shutdown()
            #expect(throws: ExecutorError.self) { try pool.submit(Square(1)) }
            #expect(pool.workerPIDs.isEmpty)
        }

        @Test("shutdown without waiting lets queued jobs finish; cancelPending cancels them")
        func shutdownModes() async throws {
            let pool = TestPools.pool(workers: 1)
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            // The first job runs until the test opens its gate, so the others are still queued at the shutdown.
            let slow = try pool.submit(AwaitFile(path: gate))
            let queued = try (0..<5).map { _ in try pool.submit(Nap(milliseconds: 300)) }
            #expect(await eventually(seconds: 120) { slow.state == .running })
            await pool.shutdown(wait: false, cancelPending: true)
            #expect(queued.allSatisfy { $0.state == .cancelled })
            for handle in queued { #expect(executorError(await handle.result)?.code == .shutDown) }
            AwaitFile.open(gate)
            await pool.shutdown(wait: true, cancelPending: false)
            #expect(slow.state == .succeeded)
        }

        @Test("max jobs per worker replaces workers, and idle workers leave and come back")
        func recycling() async throws {
            let pool = TestPools.pool(workers: 1) {
                $0.maxJobsPerWorker = 3
                $0.idleTimeout = .milliseconds(200)
            }
            var pids: Set<Int32> = []
            for _ in 0..<9 { pids.insert(try await pool.submit(WhoAmI()).value) }
            #expect(pids.count == 3)
            #expect(await eventually(seconds: 120) { pool.workerPIDs.isEmpty })
            #expect(try await pool.submit(Square(3)).value == 9)
            await pool.shutdown()
        }
    }
}

final class LastProgress: Sendable {
    private let storage = Mutex<MapProgress?>(nil)
    func set(_ progress: MapProgress) {
        storage.withLock { current in
            if (current?.completed ?? -1) < progress.completed { current = progress }
        }
    }
    var value: MapProgress? { storage.withLock { $0 } }
}

import Synchronization
