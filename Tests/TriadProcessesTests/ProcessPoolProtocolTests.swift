import Foundation
import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Process pool bad input, orphans and leaks", .serialized)
    struct ProcessPoolProtocolTests {
        struct NotRegistered: Job {
            func run() async throws -> Int { 1 }
        }

        @Test("an unregistered job fails at submit with unknownJob")
        func unregistered() async throws {
            let pool = TestPools.pool()
            #expect {
                try pool.submit(NotRegistered())
            } throws: { error in
                (error as? ExecutorError)?.code == .unknownJob && "\(error)".contains("ProcessPool.bootstrap")
            }
            await pool.shutdown()
        }

        @Test("a payload that fails to decode in the worker gives codingFailed, and the worker lives on")
        func undecodable() async throws {
            let pool = TestPools.pool(workers: 1)
            let pids = try await pool.submit(WhoAmI()).value
            let error = executorError(await (try pool.submit(Undecodable(value: 3))).result)
            #expect(error?.code == .codingFailed)
            #expect(try await pool.submit(WhoAmI()).value == pids)
            await pool.shutdown()
        }

        @Test("garbage, oversized and truncated frames from a worker give protocolViolation, and it is replaced")
        func sabotage() async throws {
            let pool = TestPools.pool(workers: 1)
            for kind in [Sabotage.Kind.garbage, .oversizedFrame, .truncatedFrame] {
                let before = try await pool.submit(WhoAmI()).value
                let error = executorError(await (try pool.submit(Sabotage(kind))).result)
                #expect(error?.code == .protocolViolation, "\(kind)")
                #expect(error?.jobName == Sabotage.jobName)
                #expect(try await pool.submit(WhoAmI()).value != before)
            }
            await pool.shutdown()
        }

        @Test("a worker that publishes an impossible ring position gives protocolViolation, and it is replaced")
        func impossibleRingPosition() async throws {
            let pool = TestPools.pool(workers: 1)
            let before = try await pool.submit(WhoAmI()).value
            let error = executorError(await (try pool.submit(Sabotage(.impossibleRingPosition))).result)
            #expect(error?.code == .protocolViolation)
            #expect(error?.jobName == Sabotage.jobName)
            #expect(try await pool.submit(WhoAmI()).value != before)
            await pool.shutdown()
        }

        @Test("a worker killed in the middle of a frame in its ring fails that job alone; its successor's ring is fresh")
        func killedMidFrame() async throws {
            // Small rings, so that the next worker's first results wrap around its ring at once.
            let pool = TestPools.pool(workers: 1) { $0.ringCapacity = 4096 }
            let before = try await pool.submit(WhoAmI()).value
            let error = executorError(await (try pool.submit(Sabotage(.killedMidFrame))).result)
            #expect(error?.code == .workerCrashed)
            #expect(error?.jobName == Sabotage.jobName)
            #expect("\(error.map { "\($0)" } ?? "")".contains("SIGKILL"))
            #expect(try await pool.submit(WhoAmI()).value != before)
            let echoed = try await pool.submit(Echo([UInt8](repeating: 7, count: 100_000))).value
            #expect(echoed == [UInt8](repeating: 7, count: 100_000))
            await pool.shutdown()
        }

        @Test("a frame above the configured limit is refused in both directions")
        func frameLimit() async throws {
            let pool = TestPools.pool(workers: 1) { $0.maxFrameSize = 1 << 16 }
            #expect {
                try pool.submit(Echo([UInt8](repeating: 1, count: 1 << 17)))
            } throws: { error in
                (error as? ExecutorError)?.code == .codingFailed
            }
            #expect(try await pool.submit(Echo([1, 2, 3])).value == [1, 2, 3])
            await pool.shutdown()
        }

        @Test("a worker of another protocol version is refused with protocolViolation")
        func wrongVersion() async throws {
            let configuration = TestPools.configuration(workers: 1, arguments: ["--wrong-version"])
            let pool = ProcessPoolExecutor(configuration: configuration)
            let error = executorError(await (try pool.submit(Square(1))).result)
            #expect(error?.code == .protocolViolation)
            #expect(error?.description.contains("version 99") == true)
            await pool.kill()
        }

        @Test("a worker program without the bootstrap call gives workerStartFailed in bounded time")
        func missingBootstrap() async throws {
            var configuration = TestPools.configuration(workers: 1, arguments: ["--no-bootstrap"])
            configuration.handshakeTimeout = .milliseconds(500)
            let pool = ProcessPoolExecutor(configuration: configuration)
            let error = executorError(await (try pool.submit(Square(1))).result)
            #expect(error?.code == .workerStartFailed)
            #expect(error?.description.contains("bootstrap") == true)
            await pool.kill()

            let earlyConfiguration = TestPools.configuration(workers: 1, arguments: ["--exit-early"])
            let early = ProcessPoolExecutor(configuration: earlyConfiguration)
            let earlyError = executorError(await (try early.submit(Square(1))).result)
            #expect(earlyError?.code == .workerStartFailed)
            await early.kill()
        }

        @Test("no orphans: a SIGKILLed parent's workers end with it")
        func orphans() async throws {
            let parent = Process()
            parent.executableURL = URL(fileURLWithPath: TestPools.workerPath)
            parent.arguments = ["--parent"]
            let output = Pipe()
            parent.standardOutput = output
            try parent.run()
            let line = try #require(await readLine(from: output.fileHandleForReading))
            let pids = line.split(separator: " ").compactMap { Int32($0) }
            #expect(pids.count == 2)
            for pid in pids { #expect(!TestPools.isDead(pid)) }
            kill(parent.processIdentifier, SIGKILL)
            parent.waitUntilExit()
            // Workers learn of the death from their lifeline and the parent-death signal; wait for that event.
            #expect(await eventually(seconds: 120) { pids.allSatisfy(TestPools.isDead) }, "a worker outlived its parent")
        }

        /// Starts the test worker as a parent with `arguments`, waits for the pids of its two workers, sends it
        /// `signal`, and checks that it ends by that signal with every worker gone. Returns what it printed after
        /// the pids.
        private func expectEndsBySignal(_ signal: Int32, arguments: [String]) async throws -> String {
            let parent = Process()
            parent.executableURL = URL(fileURLWithPath: TestPools.workerPath)
            parent.arguments = arguments
            let output = Pipe()
            parent.standardOutput = output
            try parent.run()
            let line = try #require(await readLine(from: output.fileHandleForReading))
            let pids = line.split(separator: " ").compactMap { Int32($0) }
            #expect(pids.count == 2)
            kill(parent.processIdentifier, signal)
            let ended = await eventually(seconds: 120) { !parent.isRunning }
            #expect(ended, "the parent did not end on signal \(signal)")
            if !ended { kill(parent.processIdentifier, SIGKILL) }
            parent.waitUntilExit()
            #expect(parent.terminationReason == .uncaughtSignal)
            #expect(parent.terminationStatus == signal)
            for pid in pids { #expect(TestPools.isDead(pid), "worker \(pid) outlived its parent") }
            return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }

        @Test("SIGTERM to a parent with the signal handlers reaps its workers, then ends it by SIGTERM")
        func signalShutdown() async throws {
            _ = try await expectEndsBySignal(SIGTERM, arguments: ["--parent", "--signals"])
        }

        @Test("Ctrl-C while main awaits a job ends the process by SIGINT, every worker reaped, main never returning")
        func interruptWhileAwaiting() async throws {
            let rest = try await expectEndsBySignal(SIGINT, arguments: ["--await-job"])
            #expect(!rest.contains("main returned"))
        }

        @Test("leaks: over 100k jobs the fd count is flat and RSS bounded; shutdown releases everything")
        func leaks() async throws {
            // The pool runs in a process of its own: this test process runs other suites at the same time, whose
            // sockets and files would blur a count of its descriptors.
            let parent = Process()
            parent.executableURL = URL(fileURLWithPath: TestPools.workerPath)
            parent.arguments = ["--leak-check"]
            let output = Pipe()
            parent.standardOutput = output
            try parent.run()
            let line = try #require(await readLine(from: output.fileHandleForReading))
            parent.waitUntilExit()
            #expect(parent.terminationStatus == 0)
            let fields = line.split(separator: " ").compactMap { Int($0) }
            try #require(fields.count >= 7, "unexpected leak-check output: \(line)")
            let (before, running, flat, rssStart, rssEnd, after, afterRecycling) =
                (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6])
            #expect(running > before, "a running pool holds descriptors to its workers")
            #expect(flat == 1, "the descriptor count moved while 100k jobs ran")
            #expect(rssEnd - rssStart < 64 << 20, "RSS grew from \(rssStart) to \(rssEnd)")
            #expect(after == before, "shutdown left \(after - before) descriptors open")
            #expect(afterRecycling == before, "40 worker replacements left \(afterRecycling - before) descriptors open")
            for pid in fields.dropFirst(7) { #expect(TestPools.isDead(Int32(pid))) }
        }

        @Test("the process-wide registry holds what bootstrap registered")
        func bootstrapRegistry() {
            ProcessPool.bootstrap(jobs: [Square.self], errors: [TestFailure.self])
            #expect(ProcessPool.registry.contains(jobName: Square.jobName))
            #expect(!ProcessPool.isWorker)
        }

        private func readLine(from handle: FileHandle) async -> String? {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var data = Data()
                    while !data.contains(UInt8(ascii: "\n")) {
                        let chunk = handle.availableData
                        if chunk.isEmpty { break }
                        data.append(chunk)
                    }
                    let text = String(decoding: data, as: UTF8.self)
                    continuation.resume(returning: text.split(separator: "\n").first.map(String.init))
                }
            }
        }
    }
}
