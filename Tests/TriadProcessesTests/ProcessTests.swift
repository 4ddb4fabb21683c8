import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

/// Processes that run the test worker program, with the pool's and the Process tests' jobs registered.
enum TestProcesses {
    static let configuration: ProcessPoolConfiguration = {
        var configuration = TestPools.configuration(workers: 1)
        var registry = JobRegistry(TestJobs.all + ProcessTestJobs.all)
        for error in TestJobs.errors { registry.registerError(error) }
        configuration.registry = registry
        return configuration
    }()

    static func make<J: Job>(_ job: J, passing descriptors: [IPCDescriptor] = []) -> TriadProcesses.Process<J> {
        TriadProcesses.Process(job, passing: descriptors, configuration: configuration)
    }

    /// Waits on this thread, as a synchronous caller would.
    static func joinBlocking<J: Job>(_ process: TriadProcesses.Process<J>, timeout: Duration?) -> Bool {
        process.join(timeout: timeout)
    }
}

extension ProcessPoolTests {
    @Suite("Process: one job in a process of its own", .serialized)
    struct ProcessTests {
        struct NotRegistered: Job {
            func run() async throws -> Int { 1 }
        }

        @Test("start, join and the result; the exit status, the pid and isAlive")
        func startJoinResult() async throws {
            let process = TestProcesses.make(Square(7))
            #expect(!process.isAlive)
            #expect(process.result == nil)
            try process.start()
            #expect(process.isAlive)
            #expect(await process.join(timeout: .seconds(600)))
            #expect(!process.isAlive)
            #expect(try process.result?.get() == 49)
            #expect(try await process.value == 49)
            #expect(process.exit?.exitStatus == 0)
            #expect(process.exitCode == 0)
            let pid = try #require(process.pid)
            #expect(pid != getpid())
            #expect(TestPools.isDead(pid))
        }

        @Test("the child is a fresh process: another pid, and a job that runs there")
        func runsElsewhere() async throws {
            let process = TestProcesses.make(WhoAmI())
            try process.start()
            let childPID = try await process.value
            #expect(childPID == process.pid)
            #expect(childPID != getpid())
        }

        @Test("a blocking join waits for the end, and a blocking join with a timeout returns false first")
        func blockingJoin() async throws {
            let process = TestProcesses.make(Nap(milliseconds: 1500))
            try process.start()
            #expect(!TestProcesses.joinBlocking(process, timeout: .milliseconds(100)))
            #expect(process.isAlive)
            #expect(TestProcesses.joinBlocking(process, timeout: nil))
            #expect(!process.isAlive)
            #expect(try process.result?.get() == process.pid)
        }

        @Test("an async join with a timeout returns false while the job runs, and the process runs on")
        func asyncJoinTimeout() async throws {
            let process = TestProcesses.make(Nap(milliseconds: 1500))
            try process.start()
            #expect(await process.join(timeout: .milliseconds(100)) == false)
            #expect(process.isAlive)
            #expect(process.result == nil)
            #expect(await process.join())
            #expect(process.exitCode == 0)
        }

        @Test("a registered error comes back as itself, another as a RemoteJobError; the child exits with 0")
        func remoteErrors() async throws {
            let registered = TestProcesses.make(Throw(registered: true))
            try registered.start()
            await #expect(throws: TestFailure(reason: "as asked")) { try await registered.value }
            #expect(registered.exitCode == 0)

            let unregistered = TestProcesses.make(Throw(registered: false))
            try unregistered.start()
            await #expect {
                try await unregistered.value
            } throws: { error in
                guard let remote = error as? RemoteJobError else { return false }
                return remote.typeName.contains("UnregisteredFailure") && remote.jobName == Throw.jobName
            }
        }

        @Test("crashes give workerCrashed naming the job and the signal or status", arguments: [
            Crash.Kind.fatalError, .segmentationFault, .exit3,
        ])
        func crashes(kind: Crash.Kind) async throws {
            let process = TestProcesses.make(Crash(kind))
            try process.start()
            let error = await #expect(throws: ExecutorError.self) { try await process.value }
            #expect(error?.code == .workerCrashed)
            #expect(error?.jobName == Crash.jobName)
            let exit = try #require(error?.underlying as? WorkerExit)
            #expect(exit == process.exit)
            switch kind {
            case .fatalError:
                #expect(exit.signal == SIGILL || exit.signal == SIGTRAP)
            case .segmentationFault:
                #expect(exit.signal == SIGSEGV)
                #expect(process.exitCode == -SIGSEGV)
                #expect(error?.description.contains("SIGSEGV") == true)
            case .exit3, .abort:
                #expect(exit.exitStatus == 3)
                #expect(process.exitCode == 3)
                #expect(error?.description.contains("status 3") == true)
            }
        }

        @Test("terminate sends SIGTERM and kill SIGKILL; the job is cancelled and the signal reported")
        func terminateAndKill() async throws {
            let stops: [(Int32, (TriadProcesses.Process<Nap>) -> Void)] = [
                (SIGTERM, { $0.terminate() }), (SIGKILL, { $0.kill() }),
            ]
            for (signal, stop) in stops {
                let process = TestProcesses.make(Nap(milliseconds: 60_000))
                try process.start()
                // Signal it while it may still be starting: the signal waits for the handshake.
                stop(process)
                #expect(await process.join(timeout: .seconds(600)))
                #expect(process.exit?.signal == signal)
                #expect(process.exitCode == -signal)
                let error = await #expect(throws: ExecutorError.self) { try await process.value }
                #expect(error?.code == .cancelled)
                // Signalling a finished process does nothing.
                process.kill()
            }
            // And once the job is surely running.
            let process = TestProcesses.make(Nap(milliseconds: 60_000))
            try process.start()
            #expect(await eventually(seconds: 120) { process.pid != nil })
            try await Task.sleep(for: .milliseconds(200))
            process.terminate()
            #expect(await process.join(timeout: .seconds(600)))
            #expect(process.exit?.signal == SIGTERM)
        }

        @Test("an unregistered job fails at start; a child that never answers fails with workerStartFailed")
        func startFailures() async throws {
            let unknown = TestProcesses.make(NotRegistered())
            #expect {
                try unknown.start()
            } throws: { error in
                (error as? ExecutorError)?.code == .unknownJob
            }
            #expect(!unknown.isAlive)

            var configuration = TestProcesses.configuration
            configuration.executable.arguments = ["--exit-early"]
            let early = TriadProcesses.Process(Square(2), configuration: configuration)
            try early.start()
            let error = await #expect(throws: ExecutorError.self) { try await early.value }
            #expect(error?.code == .workerStartFailed)
            #expect(error?.jobName == Square.jobName)
            #expect(!early.isAlive)
        }

        @Test("passed descriptors arrive in order; none means none")
        func passedCount() async throws {
            let (first, second) = try Pipe.duplex()
            let memory = try SharedMemory.anonymous(count: 4096)
            let three = TestProcesses.make(
                CountPassed(), passing: [first.descriptor, second.descriptor, memory.descriptor]
            )
            try three.start()
            #expect(try await three.value == 3)
            let none = TestProcesses.make(CountPassed())
            try none.start()
            #expect(try await none.value == 0)
            #expect(throws: IPCError.self) { try IPCDescriptor.passed(0) }
            // A grandchild passed nothing does not inherit its parent's list.
            let nested = TestProcesses.make(CountPassedInGrandchild(), passing: [first.descriptor])
            try nested.start()
            #expect(try await nested.value == 0)
        }
    }
}

extension ProcessPoolTests {
    @Suite("Process misuse and bad input", .serialized)
    struct ProcessMisuseTests {
        @Test("a job that fails to decode in the child gives codingFailed")
        func undecodable() async throws {
            let process = TestProcesses.make(Undecodable(value: 3))
            try process.start()
            let error = await #expect(throws: ExecutorError.self) { try await process.value }
            #expect(error?.code == .codingFailed)
            #expect(process.exitCode == 0)
        }

        @Test("starting a Process twice is a precondition failure")
        func startTwice() async {
            await #expect(processExitsWith: .failure) {
                let process = TriadProcesses.Process(Square(1), configuration: TestProcesses.configuration)
                try? process.start()
                try? process.start()
            }
        }

        @Test("joining or signalling a Process that was never started is a precondition failure")
        func joinBeforeStart() async {
            await #expect(processExitsWith: .failure) {
                let process = TriadProcesses.Process(Square(1), configuration: TestProcesses.configuration)
                await process.join()
            }
            await #expect(processExitsWith: .failure) {
                TriadProcesses.Process(Square(1), configuration: TestProcesses.configuration).terminate()
            }
        }
    }
}
